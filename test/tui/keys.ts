/** Key sequences as a terminal sends them, for `stdin.write` in TUI tests. */
export const ARROW_UP = '\u001B[A';
export const ARROW_DOWN = '\u001B[B';
export const ARROW_RIGHT = '\u001B[C';
export const ARROW_LEFT = '\u001B[D';
export const ENTER = '\r';
export const ESC = '\u001B';
export const TAB = '\t';
export const BACKSPACE = '\u007F';
export const CTRL_U = '\u0015';
