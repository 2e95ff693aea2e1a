/**
 * The one error type of the stack tooling. Its message is the single line a user reads; `logFile`
 * names where the details are. The CLI prints `error: <message> (log: <file>)` and exits 1.
 */
export class StackError extends Error {
  override readonly name = 'StackError';
  constructor(
    message: string,
    readonly logFile?: string,
  ) {
    super(message);
  }

  /** One line for a terminal: the message and, when there is one, the log file to read. */
  oneLine(): string {
    return this.logFile ? `${this.message} (log: ${this.logFile})` : this.message;
  }
}
