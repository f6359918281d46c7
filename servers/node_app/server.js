#!/usr/bin/env node
// The Node reference server: `socket.io` from npm, the same app as servers/reference_app
// where it matters, so a scenario can tell a Python-specific behaviour from a protocol one.
//
//   SIOLAB_SECRET_KEY=dev node servers/node_app/server.js --host 127.0.0.1 --port 5000
//
// Plain Node (`http`) plus `socket.io` from the repo's node_modules; nothing else.
//
// - Same settings (SIOLAB_* environment, checked at start): a bad value prints one line,
//   `siolab: bad setting VARIABLE: problem`, on stderr and exits 3, like the Python apps.
//   SIOLAB_ALLOW_EIO3=1 accepts Engine.IO 3 clients (socket.io-client 2.x); SIOLAB_TICK_MS
//   emits a numbered `tick` to every client of `/` that often, each logged. SIOLAB_ROOM_TICK_MS
//   emits a numbered `room_tick` to the room `news` (joined by a `join` event), each logged with the
//   room's members. SIOLAB_STATE_RECOVERY=1 turns on socket.io's connectionStateRecovery (the
//   Python apps have none); each connect logs whether it was `recovered`.
// - Same routes: /login?user=&next=, /logout, /, /admin, /api/backup, /vendor/socket.io.min.js,
//   /static/*, /__siolab/info (async_mode "node").
// - The pages are servers/reference_app/templates rendered by a tiny renderer of the Jinja
//   subset they use (see `Template`); anything else in them stops the server at start.
// - Namespaces: `/` accepts everyone and emits `hello`; `/chat` refuses a client without a
//   logged-in user with CONNECT_ERROR {"message": "Connection rejected by server"} (a
//   namespace middleware; the same text as python-socketio's `return False`), otherwise
//   joins room `lobby`. The login is a cookie signed with SIOLAB_SECRET_KEY (HMAC-SHA256),
//   so it survives a restart like Flask's cookie session.
// - Log lines on stderr: connects, refusals, disconnects (with the Engine.IO sid and reason),
//   Engine.IO connection errors ("Session ID unknown", ...), and one access line per request.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const path = require("path");

const EXIT_BAD_SETTING = 3;
const EXIT_USAGE = 2;
const REPO_ROOT = path.resolve(__dirname, "..", "..");
const REFERENCE_APP = path.join(REPO_ROOT, "servers", "reference_app");
const TEMPLATES_DIR = path.join(REFERENCE_APP, "templates");
const STATIC_DIR = path.join(REFERENCE_APP, "static");
const CLIENT_DIST = path.join("socket.io-client", "dist");
// name -> [npm package folder, file in its dist/]; 2.x from the alias socket.io-client-v2 (pages.py).
const VENDOR_FILES = {
  "socket.io.min.js": ["socket.io-client", "socket.io.min.js"],
  "socket.io.min.js.map": ["socket.io-client", "socket.io.min.js.map"],
  "socket.io-v2.js": ["socket.io-client-v2", "socket.io.js"],
  "socket.io.js.map": ["socket.io-client-v2", "socket.io.js.map"],
};
const CLIENT_BUILDS = { v4: "socket.io.min.js", v2: "socket.io-v2.js" };
const URL_PATTERN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;
const PATH_PATTERN = /^\/[A-Za-z0-9._\/-]*$/;
const PLACEHOLDER_SECRETS = new Set(["", "your-service-key", "placeholder", "changeme"]);
const APP_NAME = "node";
const CHAT_ROOM = "lobby";
const NEWS_ROOM = "news";   // what the room ticks (SIOLAB_ROOM_TICK_MS) go to
const COOKIE_NAME = "siolab_session";
const REJECTED = "Connection rejected by server";
const BACKUP_STEPS = 5;
const BACKUP_STEP_MS = 300;
const BOOT_ID = crypto.randomUUID();

// --- logging ---------------------------------------------------------------

function timestamp() {
  const d = new Date();
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

function log(level, message) {
  process.stderr.write(`${timestamp()} [${process.pid}] ${level} siolab.node: ${message}\n`);
}

// --- settings --------------------------------------------------------------

class SettingsError extends Error {
  constructor(variable, problem) {
    super(`${variable}: ${problem}`);
    this.variable = variable;
  }
}

function intSetting(env, name, dflt, minimum, unit) {
  const raw = (env[name] || "").trim();
  if (!raw) return dflt;
  if (!/^[+-]?\d+$/.test(raw)) {
    const hint = unit === "seconds"
      ? " (whole seconds, as for the Python apps: python-engineio sends int(seconds)*1000)" : "";
    throw new SettingsError(name, `'${raw}' is not a whole number of ${unit}${hint}`);
  }
  const value = parseInt(raw, 10);
  if (value < minimum) throw new SettingsError(name, `${value} is below the minimum of ${minimum} ${unit}`);
  return value;
}

// Trap 12's opt-in (SIOLAB_ALLOW_SUBSECOND_PING=1): any positive number of seconds, as the
// Python apps then take; socket.io takes milliseconds, so 0.3 s goes out as 300.
function pingSetting(env, name) {
  if ((env.SIOLAB_ALLOW_SUBSECOND_PING || "").trim() !== "1") return intSetting(env, name, 1, 1, "seconds");
  const raw = (env[name] || "").trim();
  if (!raw) return 1;
  const value = Number(raw);
  if (!(value > 0)) throw new SettingsError(name, `'${raw}' is not a number of seconds above 0`);
  return value;
}

function loadSettings(env) {
  const asyncMode = (env.SIOLAB_ASYNC_MODE || "").trim();
  if (asyncMode && asyncMode !== "node") {
    throw new SettingsError("SIOLAB_ASYNC_MODE", `'${asyncMode}' is not node (the Node server has no other)`);
  }
  const delay = intSetting(env, "SIOLAB_RECONNECTION_DELAY_MS", 500, 0, "milliseconds");
  const settings = {
    pingInterval: pingSetting(env, "SIOLAB_PING_INTERVAL"),
    pingTimeout: pingSetting(env, "SIOLAB_PING_TIMEOUT"),
    maxHttpBufferSize: intSetting(env, "SIOLAB_MAX_HTTP_BUFFER_SIZE", 1000000, 1, "bytes"),
    corsOrigins: null,
    secretKey: null,
    reconnectionDelayMs: delay,
    reconnectionDelayMaxMs: intSetting(env, "SIOLAB_RECONNECTION_DELAY_MAX_MS", 5 * delay, delay, "milliseconds"),
    nodeModules: path.join(REPO_ROOT, "node_modules"),
    allowEIO3: false,
    tickMs: intSetting(env, "SIOLAB_TICK_MS", 0, 0, "milliseconds"),
    roomTickMs: intSetting(env, "SIOLAB_ROOM_TICK_MS", 0, 0, "milliseconds"),
    stateRecovery: false,
  };
  if (settings.tickMs > 0 && settings.tickMs < 50) {
    throw new SettingsError("SIOLAB_TICK_MS", `${settings.tickMs} is below 50 milliseconds (0 turns ticks off)`);
  }
  if (settings.roomTickMs > 0 && settings.roomTickMs < 50) {
    throw new SettingsError("SIOLAB_ROOM_TICK_MS", `${settings.roomTickMs} is below 50 milliseconds (0 turns room ticks off)`);
  }
  const recovery = (env.SIOLAB_STATE_RECOVERY || "").trim();
  if (!["", "0", "1"].includes(recovery)) {
    throw new SettingsError("SIOLAB_STATE_RECOVERY", `'${recovery}' is not 1 (connectionStateRecovery on) or 0`);
  }
  settings.stateRecovery = recovery === "1";

  const cors = (env.SIOLAB_CORS_ORIGINS || "").trim();
  if (cors === "*") {
    settings.corsOrigins = "*";
  } else if (cors) {
    settings.corsOrigins = cors.split(",").map((o) => o.trim()).filter(Boolean);
    for (const origin of settings.corsOrigins) {
      if (!/^https?:\/\//.test(origin) || origin.endsWith("/")) {
        throw new SettingsError("SIOLAB_CORS_ORIGINS", `'${origin}' is not an origin like http://host:port (or use *)`);
      }
    }
  }

  const secret = env.SIOLAB_SECRET_KEY;
  if (secret === undefined) throw new SettingsError("SIOLAB_SECRET_KEY", "required (the session cookie's signing key)");
  if (PLACEHOLDER_SECRETS.has(secret.trim().toLowerCase())) {
    throw new SettingsError("SIOLAB_SECRET_KEY", `'${secret}' is a placeholder, not a secret key`);
  }
  settings.secretKey = secret;

  const nodeModules = (env.SIOLAB_NODE_MODULES || "").trim();
  if (nodeModules) {
    const resolved = path.resolve(nodeModules.replace(/^~(?=$|\/)/, process.env.HOME || "~"));
    if (!fs.existsSync(path.join(resolved, CLIENT_DIST, "socket.io.min.js"))) {
      throw new SettingsError("SIOLAB_NODE_MODULES",
        `${path.join(resolved, CLIENT_DIST, "socket.io.min.js")} does not exist (run npm install?)`);
    }
    settings.nodeModules = resolved;
  }

  const eio3 = (env.SIOLAB_ALLOW_EIO3 || "").trim();
  if (!["", "0", "1"].includes(eio3)) {
    throw new SettingsError("SIOLAB_ALLOW_EIO3", `'${eio3}' is not 1 (accept Engine.IO 3 clients) or 0`);
  }
  settings.allowEIO3 = eio3 === "1";
  return settings;
}

function parseArgs(argv) {
  const usage = "usage: node servers/node_app/server.js [--host HOST] --port PORT";
  const args = { host: "127.0.0.1", port: null };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = inline !== undefined ? inline : argv[++i];
    if ((flag !== "--host" && flag !== "--port") || value === undefined) {
      process.stderr.write(`${usage}\nserver.js: error: unexpected argument ${argv[i] ?? flag}\n`);
      process.exit(EXIT_USAGE);
    }
    args[flag.slice(2)] = value;
  }
  if (args.port === null || !/^\d+$/.test(args.port) || Number(args.port) > 65535) {
    const problem = args.port === null ? "--port is required" : `--port needs a port number, got ${args.port}`;
    process.stderr.write(`${usage}\nserver.js: error: ${problem}\n`);
    process.exit(EXIT_USAGE);
  }
  args.port = Number(args.port);
  return args;
}

// --- the Jinja subset of the reference templates ----------------------------
// {# comment #}, {{ name }}, {{ name or "text" }}, {{ name | safe }}, {% if name %}…{% else %}…
// {% endif %}, {% block name %}…{% endblock %}, {% extends "file" %}; autoescaped like Flask.

const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" };
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);

class Template {
  constructor(file) {
    this.file = file;
    // Jinja drops one trailing newline of a template (keep_trailing_newline=False).
    const source = fs.readFileSync(file, "utf8").replace(/\r?\n$/, "");
    const tokens = source.split(/(\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\})/);
    this.parent = null;
    this.blocks = {};
    let pos = 0;
    const parseBody = (ends) => {
      const nodes = [];
      while (pos < tokens.length) {
        const tok = tokens[pos++];
        if (tok.startsWith("{#")) continue;
        if (tok.startsWith("{{")) {
          nodes.push({ type: "expr", expr: this.expression(tok.slice(2, -2)) });
        } else if (tok.startsWith("{%")) {
          const words = tok.slice(2, -2).trim().split(/\s+/);
          if (ends.includes(words[0])) return { nodes, end: words[0] };
          if (words[0] === "if" && words.length === 2) {
            const node = { type: "if", cond: this.expression(words[1]), then: [], else: [] };
            const first = parseBody(["else", "endif"]);
            node.then = first.nodes;
            if (first.end === "else") node.else = parseBody(["endif"]).nodes;
            nodes.push(node);
          } else if (words[0] === "block" && words.length === 2) {
            const body = parseBody(["endblock"]).nodes;
            this.blocks[words[1]] = body;
            nodes.push({ type: "block", name: words[1] });
          } else if (words[0] === "extends" && words.length === 2 && /^"[^"]+"$/.test(words[1])) {
            this.parent = words[1].slice(1, -1);
          } else {
            throw new Error(`${file}: template tag not supported by the Node renderer: ${tok}`);
          }
        } else if (tok) {
          nodes.push({ type: "text", text: tok });
        }
      }
      if (ends.length) throw new Error(`${file}: missing {% ${ends.join(" / ")} %}`);
      return { nodes, end: null };
    };
    this.nodes = parseBody([]).nodes;
  }

  expression(raw) {
    const text = raw.trim();
    let m = /^([A-Za-z_]\w*)\s*\|\s*safe$/.exec(text);
    if (m) return { name: m[1], safe: true };
    m = /^([A-Za-z_]\w*)(?:\s+or\s+"([^"]*)")?$/.exec(text);
    if (m) return { name: m[1], fallback: m[2], safe: false };
    throw new Error(`${this.file}: template expression not supported by the Node renderer: {{ ${text} }}`);
  }

  render(context, templates, blocks = {}) {
    const own = Object.assign({}, this.blocks, blocks);   // a child's blocks win
    if (this.parent) return templates.get(this.parent).render(context, templates, own);
    const lookup = (expr) => {
      if (!(expr.name in context)) throw new Error(`${this.file}: no template variable ${expr.name}`);
      const value = context[expr.name];
      return (value === null || value === undefined || value === false || value === "") && expr.fallback !== undefined
        ? expr.fallback : value;
    };
    const walk = (nodes) => nodes.map((node) => {
      switch (node.type) {
        case "text": return node.text;
        case "expr": {
          const value = lookup(node.expr);
          return node.expr.safe ? String(value) : escapeHtml(value ?? "None");
        }
        case "if": return walk(lookup(node.cond) ? node.then : node.else);
        case "block": return walk(own[node.name]);
        default: throw new Error(`unknown node ${node.type}`);
      }
    }).join("");
    return walk(this.nodes);
  }
}

function loadTemplates() {
  const templates = new Map();
  for (const name of ["layout.html", "admin.html"]) templates.set(name, new Template(path.join(TEMPLATES_DIR, name)));
  return templates;
}

// json.dumps(config) as Python writes it (", " and ": ", ASCII only), so both apps render
// `window.SIOLAB_CONFIG` byte for byte alike.
function pythonJson(value) {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${pythonJson(k)}: ${pythonJson(v)}`).join(", ")}}`;
  }
  if (typeof value === "string") {
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  }
  return JSON.stringify(value);
}

// --- pages (servers/reference_app/pages.py) ---------------------------------

const SINGLETON_VARIANTS = ["naive", "fixed", "backoff"];
const TRANSPORTS = { default: null, polling: ["polling"], websocket: ["websocket"] };
const NAMESPACES = ["/", "/chat", "/admin"];
const JOINS = ["none", "once", "every"];
const HANDLERS = ["once", "in-connect"];
const MOUNTS = ["1", "2"];

class PageParamError extends Error {}

function choice(query, name, choices, dflt) {
  const value = query.get(name) || dflt;
  if (!choices.includes(value)) {
    throw new PageParamError(`bad query parameter ${name}='${value}'; expected one of ${choices.join(", ")}`);
  }
  return value;
}

function pattern(query, name, re, what) {
  const value = query.get(name);
  if (value && !re.test(value)) throw new PageParamError(`bad query parameter ${name}='${value}'; expected ${what}`);
  return value || null;
}

function pageContext(page, query, settings, user) {
  const loadSocket = (query.get("socket") ?? "1") !== "0";
  let config = null;
  if (loadSocket) {
    const tick = query.get("tick") || String(settings.reconnectionDelayMs);
    if (!/^\d+$/.test(tick) || Number(tick) < 50) {
      throw new PageParamError(`bad query parameter tick='${tick}'; expected milliseconds >= 50`);
    }
    config = {
      singleton: choice(query, "singleton", SINGLETON_VARIANTS, "naive"),
      transports: TRANSPORTS[choice(query, "transport", Object.keys(TRANSPORTS), "default")],
      namespace: choice(query, "ns", NAMESPACES, "/"),
      reconnectionDelay: settings.reconnectionDelayMs,
      reconnectionDelayMax: settings.reconnectionDelayMaxMs,
      tickMs: Number(tick),
      url: pattern(query, "url", URL_PATTERN, "an origin like http://127.0.0.1:5000"),
      path: pattern(query, "path", PATH_PATTERN, "a path like /socket.io"),
      join: choice(query, "join", JOINS, "none"),
      handlers: choice(query, "handlers", HANDLERS, "once"),
      mounts: Number(choice(query, "mounts", MOUNTS, "1")),
    };
  }
  return {
    page,
    app_name: APP_NAME,
    user,
    load_socket: loadSocket,
    client_bundle: CLIENT_BUILDS[choice(query, "client", Object.keys(CLIENT_BUILDS), "v4")],
    config_json: pythonJson(config).replace(/</g, "\\u003c"),
  };
}

// --- the login cookie --------------------------------------------------------

function cookieSession(secret) {
  const sign = (payload) => crypto.createHmac("sha256", secret).update(payload).digest("base64url");
  return {
    dump(user) {
      const payload = Buffer.from(JSON.stringify({ user })).toString("base64url");
      return `${payload}.${sign(payload)}`;
    },
    userFromCookieHeader(header) {
      for (const part of (header || "").split(";")) {
        const eq = part.indexOf("=");
        if (eq < 0 || part.slice(0, eq).trim() !== COOKIE_NAME) continue;
        const [payload, mac] = part.slice(eq + 1).trim().split(".");
        if (!payload || !mac) return null;
        const expected = Buffer.from(sign(payload));
        const given = Buffer.from(mac);
        if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) return null;
        try {
          const user = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")).user;
          return typeof user === "string" && user ? user : null;
        } catch (err) {
          return null;
        }
      }
      return null;
    },
  };
}

// --- the app -----------------------------------------------------------------

// The version of the package `require(name)` loads (its package.json need not be exported).
function packageVersion(name) {
  try {
    let dir = path.dirname(require.resolve(name));
    while (dir !== path.dirname(dir)) {
      const file = path.join(dir, "package.json");
      if (fs.existsSync(file)) {
        const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
        if (pkg.name === name) return pkg.version;
      }
      dir = path.dirname(dir);
    }
  } catch (err) {
    // not installed: left out
  }
  return null;
}

function safeNext(target) {
  return target && target.startsWith("/") && !target.startsWith("//") ? target : "/";
}

function readBody(req, limit = 65536) {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => {
      body += chunk;
      if (body.length > limit) reject(new Error("body too large"));
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

function send(res, status, body, type = "text/plain; charset=utf-8", headers = {}) {
  res.writeHead(status, Object.assign({ "Content-Type": type, "Content-Length": Buffer.byteLength(body) }, headers));
  res.end(body);
}

const sendJson = (res, status, value) => send(res, status, JSON.stringify(value), "application/json");

function sendFile(res, file, type) {
  fs.readFile(file, (err, data) => {
    if (err) return send(res, 404, `${path.basename(file)} not found\n`);
    res.writeHead(200, { "Content-Type": type, "Content-Length": data.length, "Cache-Control": "no-cache" });
    res.end(data);
  });
}

const CONTENT_TYPES = { ".js": "text/javascript; charset=utf-8", ".map": "application/json", ".css": "text/css" };

function createApp(settings, templates) {
  const { Server } = require("socket.io");
  const sessions = cookieSession(settings.secretKey);
  const jobs = new Map();
  const versions = { node: process.versions.node, socketio: packageVersion("socket.io"),
    engineio: packageVersion("engine.io") };

  function renderPage(req, res, url, template, page) {
    let context;
    try {
      context = pageContext(page, url.searchParams, settings, sessions.userFromCookieHeader(req.headers.cookie));
    } catch (err) {
      if (err instanceof PageParamError) return send(res, 400, err.message + "\n");
      throw err;
    }
    return send(res, 200, templates.get(template).render(context, templates), "text/html; charset=utf-8");
  }

  async function handle(req, res) {
    const url = new URL(req.url, "http://localhost");
    const route = `${req.method} ${url.pathname}`;
    if (route === "GET /login" || route === "POST /login") {
      const form = req.method === "POST" ? new URLSearchParams(await readBody(req)) : url.searchParams;
      const user = (form.get("user") || "").trim();
      if (!user) return send(res, 400, "login needs a user: /login?user=NAME or POST form field user\n");
      return send(res, 302, "", "text/plain", {
        Location: safeNext(form.get("next") || url.searchParams.get("next")),
        "Set-Cookie": `${COOKIE_NAME}=${sessions.dump(user)}; HttpOnly; Path=/; SameSite=Lax`,
      });
    }
    if (route === "GET /logout") {
      return send(res, 302, "", "text/plain", {
        Location: "/",
        "Set-Cookie": `${COOKIE_NAME}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/`,
      });
    }
    if (route === "GET /") return renderPage(req, res, url, "layout.html", "layout");
    if (route === "GET /admin") return renderPage(req, res, url, "admin.html", "admin");
    if (route === "POST /api/backup") {
      const job = crypto.randomBytes(6).toString("hex");
      jobs.set(job, { job, state: "running", progress: 0 });
      let step = 0;
      const timer = setInterval(() => {
        step += 1;
        const entry = jobs.get(job);
        entry.progress = Math.round((100 * step) / BACKUP_STEPS);
        if (step >= BACKUP_STEPS) {
          entry.state = "done";
          clearInterval(timer);
          log("INFO", `backup job=${job} done`);
        }
      }, BACKUP_STEP_MS);
      log("INFO", `backup job=${job} started`);
      return sendJson(res, 202, { job });
    }
    let m = /^\/api\/backup\/([^/]+)$/.exec(url.pathname);
    if (m && req.method === "GET") {
      const entry = jobs.get(m[1]);
      return entry ? sendJson(res, 200, entry) : sendJson(res, 404, { error: `no backup job ${m[1]}` });
    }
    m = /^\/vendor\/([^/]+)$/.exec(url.pathname);
    if (m && req.method === "GET") {
      const entry = Object.prototype.hasOwnProperty.call(VENDOR_FILES, m[1]) ? VENDOR_FILES[m[1]] : null;
      const file = entry ? path.join(settings.nodeModules, entry[0], "dist", entry[1]) : null;
      if (!file || !fs.existsSync(file)) {
        return send(res, 404, `${m[1]} is not served (is socket.io-client installed under ${settings.nodeModules}?)\n`);
      }
      return sendFile(res, file, CONTENT_TYPES[path.extname(file)]);
    }
    m = /^\/static\/([\w.-]+)$/.exec(url.pathname);
    if (m && req.method === "GET" && !m[1].startsWith(".")) {
      return sendFile(res, path.join(STATIC_DIR, m[1]), CONTENT_TYPES[path.extname(m[1])] || "application/octet-stream");
    }
    if (route === "GET /__siolab/info") {
      return sendJson(res, 200, {
        boot: BOOT_ID, pid: process.pid, app: APP_NAME, async_mode: "node", versions,
        ping_interval: settings.pingInterval, ping_timeout: settings.pingTimeout,
        max_http_buffer_size: settings.maxHttpBufferSize, allow_eio3: settings.allowEIO3,
      });
    }
    return send(res, 404, `${req.method} ${url.pathname} not found\n`);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      log("ERROR", `${req.method} ${req.url}: ${err.stack || err}`);
      if (!res.headersSent) send(res, 500, "Internal Server Error\n");
      else res.destroy();
    });
  });

  const io = new Server(server, {
    pingInterval: Math.round(settings.pingInterval * 1000),
    pingTimeout: Math.round(settings.pingTimeout * 1000),
    maxHttpBufferSize: settings.maxHttpBufferSize,
    allowEIO3: settings.allowEIO3,
    // socket.io's own defaults (2 min), middlewares skipped on a recovered connection as on the first one.
    connectionStateRecovery: settings.stateRecovery ? { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true }
      : undefined,
    // Like python-engineio's cors_allowed_origins: the accepted origin is echoed, with credentials.
    cors: settings.corsOrigins ? { origin: settings.corsOrigins === "*" ? true : settings.corsOrigins, credentials: true }
      : undefined,
  });

  // An access line per HTTP request, and per WebSocket upgrade request (evidence, like gunicorn's).
  server.prependListener("request", (req, res) => {
    res.on("finish", () => log("INFO", `"${req.method} ${req.url} HTTP/${req.httpVersion}" ${res.statusCode}`));
  });
  server.prependListener("upgrade", (req) => log("INFO", `"${req.method} ${req.url} HTTP/${req.httpVersion}" upgrade`));
  io.engine.on("connection_error", (err) => {
    log("INFO", `engine.io connection_error ${err.req && err.req.method} ${err.req && err.req.url}: ` +
      `code=${err.code} message=${JSON.stringify(err.message)}`);
  });

  const userOf = (socket) => sessions.userFromCookieHeader(socket.request.headers.cookie);

  // SIOLAB_TICK_MS: `tick` {n} to every client of `/`, from the first connect on, each logged.
  let ticking = null;
  const startTicking = () => {
    let n = 0;
    ticking = setInterval(() => {
      n += 1;
      io.emit("tick", { n });
      log("INFO", `tick n=${n}`);
    }, settings.tickMs);
  };

  // SIOLAB_ROOM_TICK_MS: `room_tick` {n} to the room `news`, each logged with the room's members.
  let roomTicking = null;
  const startRoomTicking = () => {
    let n = 0;
    roomTicking = setInterval(() => {
      n += 1;
      const members = [...(io.of("/").adapter.rooms.get(NEWS_ROOM) || [])].sort();
      io.to(NEWS_ROOM).emit("room_tick", { n, boot: BOOT_ID });
      log("INFO", `room_tick n=${n} boot=${BOOT_ID} room=${NEWS_ROOM} members=${members.join(",")}`);
    }, settings.roomTickMs);
  };

  io.on("connection", (socket) => {
    const user = userOf(socket);
    log("INFO", `connect sid=${socket.id} eio_sid=${socket.conn.id} namespace=/ user=${user ?? "None"}` +
      (settings.stateRecovery ? ` recovered=${socket.recovered}` : ""));
    socket.emit("hello", { user });
    socket.on("disconnect", (reason) => log("INFO", `disconnect sid=${socket.id} namespace=/ reason=${reason}`));
    // One line per event received: the lab counts what arrived against what the client sent.
    socket.on("tally", (data) => log("INFO", `tally sid=${socket.id} n=${data && typeof data === "object" ? data.n : data}`));
    socket.on("join", (room) => {
      const name = String(room || NEWS_ROOM);
      socket.join(name);
      log("INFO", `join sid=${socket.id} room=${name}`);
    });
    if (settings.tickMs > 0 && ticking === null) startTicking();
    if (settings.roomTickMs > 0 && roomTicking === null) startRoomTicking();
  });

  const chat = io.of("/chat");
  chat.use((socket, next) => {
    if (userOf(socket)) return next();
    // The incident's handler: no session user, no connection.
    log("INFO", `refused sid=${socket.id} eio_sid=${socket.conn.id} namespace=/chat: no session user`);
    return next(new Error(REJECTED));
  });
  chat.on("connection", (socket) => {
    const user = userOf(socket);
    socket.join(CHAT_ROOM);
    log("INFO", `connect sid=${socket.id} eio_sid=${socket.conn.id} namespace=/chat user=${user}`);
    socket.on("message", (text) => chat.to(CHAT_ROOM).emit("message", { user, text }));
    socket.on("disconnect", (reason) => log("INFO", `disconnect sid=${socket.id} namespace=/chat reason=${reason}`));
  });

  return { server, io, versions };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  let settings;
  try {
    settings = loadSettings(process.env);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    process.stderr.write(`siolab: bad setting ${err.message}\n`);
    process.exit(EXIT_BAD_SETTING);
  }
  const templates = loadTemplates();
  const { server, versions } = createApp(settings, templates);
  server.on("error", (err) => {
    process.stderr.write(`siolab: cannot listen on ${args.host}:${args.port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(args.port, args.host, () => {
    const addr = server.address();
    log("INFO", `app ready async_mode=node ping_interval=${settings.pingInterval}s ping_timeout=${settings.pingTimeout}s ` +
      `max_http_buffer_size=${settings.maxHttpBufferSize} cors=${settings.corsOrigins || "off"} ` +
      `allow_eio3=${settings.allowEIO3} tick_ms=${settings.tickMs} room_tick_ms=${settings.roomTickMs} state_recovery=${settings.stateRecovery} socket.io=${versions.socketio} engine.io=${versions.engineio} node=${versions.node}`);
    log("INFO", `listening on http://${addr.address}:${addr.port}`);
    if (!fs.existsSync(path.join(settings.nodeModules, CLIENT_DIST, "socket.io.min.js"))) {
      log("WARNING", `${path.join(settings.nodeModules, CLIENT_DIST, "socket.io.min.js")} is missing: ` +
        "pages will not load socket.io-client (run npm install)");
    }
  });
  // Logged, then Node's own default: the process dies by the signal (exit status -N).
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.once(signal, () => {
      log("INFO", `${signal}: exiting`);
      process.kill(process.pid, signal);
    });
  }
}

main();
