export * from "./schema.js";
export { parseFlowIR } from "./parse.js";
export { EVENT_NAME, resolveEventMappings, type EventMapping } from "./triggers.js";
