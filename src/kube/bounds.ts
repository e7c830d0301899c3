// How long and how much the product waits for the API server, one figure each for both clients (the
// agent's rest-client.ts and client-node under config.ts): an answer not complete in this long, or larger
// than this, is a failure, not something to wait for or to hold in memory.

/** A request the API server has not answered, body included, in this long has failed. */
export const API_REQUEST_TIMEOUT_MS = 30_000;

/**
 * The largest response body read: a list of every pod of a 5,000-node cluster's worth, far below what
 * an endless body would take before the deadline. A watch event is one object, bounded alike.
 */
export const MAX_BODY_BYTES = 128 * 1024 * 1024;

/** Objects per page of a list that can be long (every Node, every Pod), as client-go's reflector pages. */
export const LIST_PAGE_SIZE = 500;
