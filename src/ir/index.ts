export * from "./schema.js";
export { parseFlowIR } from "./parse.js";
