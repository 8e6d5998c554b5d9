/** Time as an input. monoMs for every deadline; wallNowMs only for display and ISO timestamps. */
export interface Clock {
  monoMs(): number;
  /** Wall-clock epoch ms, for display and ISO timestamps only. */
  wallNowMs(): number;
}
