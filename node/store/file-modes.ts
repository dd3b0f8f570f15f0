/**
 * Everything a node writes is its operator's alone: key shares and dealing seeds are secrets, and the logs, records
 * and markers around them say which users logged in, when, and whose data a directory holds. So every directory the
 * node creates is 0700 and every file 0600. `torus-node` also sets its umask to 0077 before it writes anything; the
 * explicit modes keep this true for code that runs under another umask (a test, a library user of the stores).
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** The process umask that gives the same modes to files created by code that names none (a library's). */
export const PRIVATE_UMASK = 0o077;
