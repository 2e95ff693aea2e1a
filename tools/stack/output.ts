/**
 * Output into a reader that stops early, as in `npm run stack -- status | head -1`.
 */

/**
 * Makes a closed reader end `stream`'s output quietly. Writing into a pipe whose reader has gone
 * fails with EPIPE, reported as an 'error' event on the stream after the write: unhandled, it
 * crashed the CLI with a stack trace. The reader has all it wanted, so the rest of the output is
 * dropped and the command finishes with its own exit code (an `up` stopped halfway would leave
 * servers behind). Any other error on the stream is thrown as before.
 */
export function endQuietlyWhenReaderCloses(stream: NodeJS.WritableStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
    throw err;
  });
}
