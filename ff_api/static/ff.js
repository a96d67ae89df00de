/**
 * ff.js: ff's browser client. No dependencies; an ES module that also sets `globalThis.ff`.
 *
 *   import { connect } from "https://flags.example.com/sdk/ff.js";
 *   const flags = connect({ clientKey: "ffc_...", context: { targetingKey: "user-1" } });
 *   await flags.ready;
 *   flags.isEnabled("new-checkout");          // true only when the value is exactly true
 *   flags.value("banner-text", "Welcome");    // the default when missing or of another type
 *   flags.onChange((keys) => render(keys));   // keys whose value changed after `ready`
 *
 * Instead of `clientKey` and `context`, pass `token`: a stream token your backend minted
 * (POST /api/v1/stream-tokens), or a function returning one (sync or async) that is called
 * at every connect, so a reconnect after the token expired gets a fresh one.
 * `baseUrl` defaults to the origin this file was served from.
 *
 * The stream sends evaluated values only. On any error the client closes the connection
 * and reconnects with backoff (0.5 s doubling to 30 s, with jitter), resuming with
 * `last_event_id`: the server then sends nothing if nothing was missed, else a snapshot.
 * Values keep serving meanwhile; `status` is "connecting", "ready", "reconnecting" or
 * "closed".
 */

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30000;
const STREAM_PATH = "api/v1/browser/stream";

function defaultBaseUrl() {
  return new URL("..", import.meta.url).href;
}

function sameEvaluation(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class FlagClient {
  constructor(options = {}) {
    const { baseUrl, clientKey, token, context } = options;
    if (!clientKey && !token) {
      throw new TypeError("ff.connect needs a clientKey or a token");
    }
    this._base = new URL(String(baseUrl ?? defaultBaseUrl()).replace(/\/?$/, "/"));
    this._clientKey = clientKey;
    this._token = token;
    this._context = context ?? {};
    this._flags = new Map();
    this._changeListeners = new Set();
    this._statusListeners = new Set();
    this._source = null;
    this._timer = null;
    this._attempt = 0;
    this._loaded = false;
    this._closed = false;
    /** The id of the last event received: the project's change sequence. */
    this.lastEventId = null;
    this.status = "connecting";
    /** Resolves once the first snapshot has arrived. */
    this.ready = new Promise((resolve) => {
      this._resolveReady = resolve;
    });
    this._open();
  }

  /** True only when the flag's value is exactly `true`. */
  isEnabled(key) {
    return this.value(key, false) === true;
  }

  /** The flag's value, or `fallback` when it is missing, null or not of fallback's type. */
  value(key, fallback) {
    const flag = this._flags.get(key);
    if (flag === undefined || flag.value === null || flag.value === undefined) {
      return fallback;
    }
    if (fallback !== undefined && fallback !== null && typeof flag.value !== typeof fallback) {
      return fallback;
    }
    return flag.value;
  }

  /** `{value, variant, reason}` of one flag, or undefined. */
  details(key) {
    const flag = this._flags.get(key);
    return flag === undefined ? undefined : { ...flag };
  }

  /** Every flag's value, by key. */
  all() {
    return Object.fromEntries([...this._flags].map(([key, flag]) => [key, flag.value]));
  }

  /** `callback(keys)` after values change; returns a function that unsubscribes. */
  onChange(callback) {
    this._changeListeners.add(callback);
    return () => this._changeListeners.delete(callback);
  }

  /** `callback(status)` whenever the status changes; returns a function that unsubscribes. */
  onStatus(callback) {
    this._statusListeners.add(callback);
    return () => this._statusListeners.delete(callback);
  }

  close() {
    this._closed = true;
    clearTimeout(this._timer);
    if (this._source !== null) {
      this._source.close();
      this._source = null;
    }
    this._setStatus("closed");
  }

  async _url() {
    const url = new URL(STREAM_PATH, this._base);
    if (this._token) {
      const token = typeof this._token === "function" ? await this._token() : this._token;
      url.searchParams.set("token", token);
    } else {
      url.searchParams.set("key", this._clientKey);
      url.searchParams.set("context", JSON.stringify(this._context));
    }
    if (this.lastEventId !== null) {
      url.searchParams.set("last_event_id", this.lastEventId);
    }
    return url.href;
  }

  async _open() {
    let url;
    try {
      url = await this._url();
    } catch (error) {
      console.warn("ff: could not get a stream token", error);
      this._retry();
      return;
    }
    if (this._closed) {
      return;
    }
    const source = new EventSource(url);
    this._source = source;
    source.addEventListener("open", () => {
      this._attempt = 0;
      if (this._loaded) {
        this._setStatus("ready"); // resumed: nothing was missed unless a snapshot follows
      }
    });
    source.addEventListener("snapshot", (event) => this._onSnapshot(event));
    source.addEventListener("change", (event) => this._onChangeEvent(event));
    source.addEventListener("error", () => {
      if (this._source !== source) {
        return;
      }
      // Reconnect ourselves: the browser's own retry cannot back off or add last_event_id.
      source.close();
      this._source = null;
      this._retry();
    });
  }

  _retry() {
    if (this._closed) {
      return;
    }
    this._setStatus(this._loaded ? "reconnecting" : "connecting");
    const ceiling = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** this._attempt);
    this._attempt += 1;
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    this._timer = setTimeout(() => this._open(), delay);
  }

  _onSnapshot(event) {
    const data = JSON.parse(event.data);
    const next = new Map(Object.entries(data.flags));
    const keys = [...new Set([...this._flags.keys(), ...next.keys()])].filter(
      (key) => !sameEvaluation(this._flags.get(key), next.get(key)),
    );
    this._flags = next;
    this._received(event, keys);
  }

  _onChangeEvent(event) {
    const data = JSON.parse(event.data);
    const keys = [];
    for (const [key, flag] of Object.entries(data.flags)) {
      this._flags.set(key, flag);
      keys.push(key);
    }
    for (const key of data.removed) {
      this._flags.delete(key);
      keys.push(key);
    }
    this._received(event, keys);
  }

  _received(event, keys) {
    this.lastEventId = event.lastEventId || this.lastEventId;
    const first = !this._loaded;
    this._loaded = true;
    this._setStatus("ready");
    if (first) {
      this._resolveReady(this);
    } else if (keys.length > 0) {
      this._emit(this._changeListeners, keys.sort());
    }
  }

  _setStatus(status) {
    if (this.status !== status) {
      this.status = status;
      this._emit(this._statusListeners, status);
    }
  }

  _emit(listeners, payload) {
    for (const listener of [...listeners]) {
      try {
        listener(payload);
      } catch (error) {
        console.error("ff: a listener failed", error);
      }
    }
  }
}

/** Connect to ff's browser stream; see the top of this file. */
export function connect(options) {
  return new FlagClient(options);
}

const ff = { connect, FlagClient };
globalThis.ff ??= ff;
export default ff;
