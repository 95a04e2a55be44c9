// A connector module that takes a while to load (tests: health is NOT_SERVING until connectors are loaded).
import { TestConnector } from "./fixture-connectors.js";

await new Promise((resolve) => setTimeout(resolve, 1500));

export default new TestConnector();
