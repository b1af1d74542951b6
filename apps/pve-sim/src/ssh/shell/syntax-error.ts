/** Raised for input the mini-shell cannot read; the message follows dash's wording. */
export class ShellSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellSyntaxError';
  }
}
