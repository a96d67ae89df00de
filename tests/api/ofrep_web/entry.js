// What the browser test imports: the official packages, unchanged.
export { OpenFeature, ProviderEvents } from "@openfeature/web-sdk";
export { OFREPWebProvider } from "@openfeature/ofrep-web-provider";
