/**
 * A decider: pure functions from a command and the current state to new events, and from state and
 * an event to the next state. No I/O, clock or random ids: the handler passes those in.
 */
export interface Decider<State, Command, Event> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState: State;
}
