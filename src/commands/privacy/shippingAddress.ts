import { z } from 'zod';
import '../../infra/http/openapi';
import { emailSchema } from '../accounts/users';
import { plainTextSchema } from '../../queries/plainText';

// ISO 3166-1 alpha-2, officially assigned codes.
const ISO_COUNTRIES = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR ' +
    'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO ' +
    'JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR ' +
    'MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO ' +
    'RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV ' +
    'TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
  ).split(' '),
);

const line = (max: number, field: string): z.ZodType<string> => plainTextSchema(max, field).pipe(z.string().min(1, `${field} must not be empty`));

export const shippingAddressSchema = z
  .object({
    name: line(200, 'name'),
    line1: line(200, 'line1'),
    line2: line(200, 'line2').optional(),
    city: line(100, 'city'),
    postalCode: line(20, 'postalCode'),
    country: z
      .string()
      .transform((value) => value.toUpperCase())
      .refine((value) => ISO_COUNTRIES.has(value), 'country must be an ISO 3166-1 alpha-2 code, e.g. "DE"'),
    phone: z
      .string()
      .trim()
      .regex(/^\+?[0-9 ().-]{4,30}$/, 'phone must be 4 to 30 digits, spaces, "+", "-", "(", ")" or "."')
      .optional(),
  })
  .strict()
  .openapi('ShippingAddress', {
    example: { name: 'Ada Lovelace', line1: '12 St James Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB', phone: '+44 20 7946 0958' },
  });
export type ShippingAddress = z.infer<typeof shippingAddressSchema>;

/** What an order holds about the person it goes to: sealed in events, revealed to its owner and admins. */
export const orderPersonalDataSchema = z.object({
  shippingAddress: shippingAddressSchema.optional(),
  /** Where the order's emails go; absent: the account's email. */
  contactEmail: emailSchema.optional(),
});
export type OrderPersonalData = z.infer<typeof orderPersonalDataSchema>;
