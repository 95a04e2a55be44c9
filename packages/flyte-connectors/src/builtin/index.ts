import type { Connector } from "../connector.js";
import { EchoConnector } from "./echo.js";
import { SleepConnector } from "./sleep.js";

export { EchoConnector, EchoMeta } from "./echo.js";
export { SleepConnector, SleepMeta } from "./sleep.js";

/** The built-in connectors (`echo`, `sleep`): no credentials, no state in the process. */
export const builtinConnectors: readonly Connector[] = Object.freeze([new EchoConnector(), new SleepConnector()]);
