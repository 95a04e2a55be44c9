// `flyte-connectors/http`: calling external REST APIs from connectors, with the fault handling every connector
// needs (retries with back-off, caller-safe fault descriptions, polls that survive an outage).
export { withRetries, isTransient, describeFault, parseRetryAfter, statusNameForHttp, HttpError, type RetryOptions } from "./retry.js";
export { requestJson, sendRequest, type JsonRequest, type HttpRequest, type HttpReply } from "./request.js";
export { pollTolerantly, type TolerantPollOptions } from "./tolerant-poll.js";
export { UrlPolicy, UrlRefusedError, refusedAddressKind, allowedOriginsSetting, type UrlPolicyOptions, type ResolveHost } from "./url-policy.js";
