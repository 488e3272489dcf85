import { AppError, ConflictError, NotFoundError } from '../../errors';
import { formatAmount, toDecimalAmount } from '../../events/money';
import type { OrderStatus, PaymentMethod } from '../../events/orderEvents';
import { nextCommands, transitionHint } from './orderTransitions';

/** Names both states and, from the transition table, what to do instead. */
export class InvalidTransitionError extends ConflictError {
  constructor(
    readonly from: OrderStatus,
    readonly to: OrderStatus,
    reason?: string,
  ) {
    super('ORDER_INVALID_TRANSITION', `${from} → ${to} is not allowed${reason ? `: ${reason}` : ''}; ${transitionHint(from, to)}`, { from, to, next: nextCommands(from) });
  }
}

export class OrderNotFoundError extends NotFoundError {
  constructor(orderId: string) {
    super('ORDER_NOT_FOUND', `Order ${orderId} not found`);
  }
}

export class OrderAlreadyExistsError extends ConflictError {
  constructor(orderId: string) {
    super('ORDER_ALREADY_EXISTS', `Order ${orderId} already exists`);
  }
}

export class PaymentMethodMismatchError extends ConflictError {
  constructor(expected: PaymentMethod, actual: PaymentMethod) {
    super('PAYMENT_METHOD_MISMATCH', `Order is paid by ${expected}, not ${actual}`, { expected, actual });
  }
}

export class InvalidOrderError extends AppError {
  constructor(message: string) {
    super('validation', 'ORDER_INVALID', message);
  }
}

export class PartialRefundError extends ConflictError {
  constructor(paidAmount: number, paidCurrency: string, refundedAmount: number, refundedCurrency: string) {
    super('REFUND_PARTIAL', `A refund of ${refundedAmount} ${refundedCurrency} does not cover the ${paidAmount} ${paidCurrency} paid; partial refunds are not recorded`, {
      paidAmount,
      paidCurrency,
      refundedAmount,
      refundedCurrency,
    });
  }
}

/** The order's total is below what its payment method can charge: it could never be paid. */
export class OrderAmountBelowMinimumError extends AppError {
  constructor(paymentMethod: PaymentMethod, currency: string, minimum: number, total: number) {
    super(
      'validation',
      'ORDER_AMOUNT_BELOW_MINIMUM',
      `An order paid by ${paymentMethod} must total at least ${toDecimalAmount(minimum, currency)} ${currency}; this one totals ${toDecimalAmount(total, currency)} ${currency}`,
      { paymentMethod, currency, minimumAmount: minimum, totalAmount: total },
    );
  }
}

/** The provider cannot charge this exact amount (1.005 KWD by Stripe, 175.50 HUF by PayPal): it could never be paid. */
export class OrderAmountNotChargeableError extends AppError {
  constructor(paymentMethod: PaymentMethod, currency: string, total: number) {
    super(
      'validation',
      'ORDER_AMOUNT_NOT_CHARGEABLE',
      `${paymentMethod} cannot charge ${formatAmount(total, currency)} exactly; choose another payment method or change the order`,
      { paymentMethod, currency, totalAmount: total },
    );
  }
}

export class RefundNotFoundError extends NotFoundError {
  constructor(orderId: string, refundId: string) {
    super('REFUND_NOT_FOUND', `Order ${orderId} has no refund ${refundId}`);
  }
}

/** Only a refund the provider refused may be tried again. */
export class RefundNotRetryableError extends ConflictError {
  constructor(refundId: string, status: string) {
    super('REFUND_NOT_RETRYABLE', `Refund ${refundId} is ${status}; only a failed refund can be retried`, { refundId, status });
  }
}

/** The refunds of an order never add up to more than was paid. */
export class RefundExceedsPaymentError extends ConflictError {
  constructor(paidAmount: number, currency: string, available: number, requested: number) {
    super(
      'REFUND_EXCEEDS_PAYMENT',
      `A refund of ${formatAmount(requested, currency)} exceeds the ${formatAmount(available, currency)} still refundable of the ${formatAmount(paidAmount, currency)} paid`,
      { paidAmount, currency, availableAmount: available, requestedAmount: requested },
    );
  }
}

export class ReturnNotFoundError extends NotFoundError {
  constructor(orderId: string, returnId: string) {
    super('RETURN_NOT_FOUND', `Order ${orderId} has no return ${returnId}`);
  }
}

/** Not delivered, or the return window has closed. */
export class ReturnNotAllowedError extends ConflictError {
  constructor(reason: string) {
    super('RETURN_NOT_ALLOWED', `A return cannot be requested: ${reason}`);
  }
}

export class ReturnTransitionError extends ConflictError {
  constructor(returnId: string, from: string, to: string) {
    super('RETURN_INVALID_TRANSITION', `Return ${returnId} is ${from}; it cannot become ${to}`, { returnId, from, to });
  }
}
