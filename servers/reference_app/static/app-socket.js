// The app's global Socket.IO singleton, as in the incident's layout.html: every page calls
// getAppSocket(), which keeps one socket in window.__appSocket.
//
//   naive: create once, never reset; relies on socket.io-client's own reconnection.
//   fixed: the RCA's fix. On connect_error, or on disconnect with reason "transport error"
//          or "transport close", disconnect the socket and forget it, so the next
//          getAppSocket() does a fresh handshake (a new sid).
//   backoff: the fix plus exponential backoff with full jitter: after the n-th failure in a
//          row, getAppSocket() makes no new socket for random(0.5..1.5) × delay × 2^(n-1)
//          (capped at reconnectionDelayMax); a connect clears the count.
//
// cfg.join (?join=): "once" emits `join` "news" on the socket's first connect only (state a
// reconnect may lose), "every" on every connect; each join and each `room_tick` is reported, and
// every connect reports socket.recovered (connection state recovery, socket.io-client >= 4.6).
//
// The page uses the socket the way the app does: getAppSocket() on load and again every
// tickMs, so the fixed variant re-creates its socket on the next tick.
//
// Two mistakes of app code around the socket (issue 12, duplicate-handlers), each off by default:
//   handlers: "in-connect": the app's handlers (here `tick`) are registered inside the socket's
//          `connect` handler, so every reconnection adds one more; "once" (default): registered
//          once, when the socket is made.
//   mounts: 2: the page mounts twice (a framework's double mount, as React StrictMode does in
//          development) and each mount calls io() itself with no cleanup: a second socket, with
//          its own handlers, besides the singleton's; 1 (default): the singleton only.
// Every socket the page makes is numbered (`socket` in its reports) and reported (`sio.socket`).
//
// Every socket event is reported to the lab through window.__siolabReport(kind, data), a
// binding the lab's browser driver exposes; opened by a person, the page logs to the console.
(function () {
  "use strict";

  const cfg = window.SIOLAB_CONFIG || {};
  const variant = cfg.singleton || "naive";
  const namespace = cfg.namespace || "/";
  const RESET_ON_DISCONNECT = ["transport error", "transport close"];
  const RESETS = variant === "fixed" || variant === "backoff";
  const HANDLERS_IN_CONNECT = cfg.handlers === "in-connect";
  let sockets = 0;          // every socket the page makes, numbered from 1
  let failures = 0;         // backoff: failures in a row
  let notBefore = 0;        // backoff: no new socket before this time (ms)

  function report(kind, data) {
    const payload = Object.assign({}, data, { wall: Date.now() / 1000 });
    if (typeof window.__siolabReport === "function") {
      try {
        Promise.resolve(window.__siolabReport(kind, payload)).catch(function () {});
      } catch (e) { /* the lab went away; the page carries on */ }
    } else {
      console.log("[siolab] " + kind + " " + JSON.stringify(payload));
    }
  }

  function show(text) {
    const el = document.getElementById("socket-state");
    if (el) el.textContent = text;
  }

  function showMessage(text) {
    const list = document.getElementById("messages");
    if (!list) return;
    const item = document.createElement("li");
    item.textContent = text;
    list.appendChild(item);
  }

  function clientOptions() {
    const opts = {
      reconnectionDelay: cfg.reconnectionDelay,
      reconnectionDelayMax: cfg.reconnectionDelayMax,
    };
    if (cfg.transports) opts.transports = cfg.transports;  // absent: polling, then upgrade
    if (cfg.path) opts.path = cfg.path;                    // absent: the client's default, /socket.io
    return opts;
  }

  function reset(socket, reason) {
    if (window.__appSocket !== socket) return;  // already replaced
    window.__appSocket = null;
    socket.disconnect();  // also stops the manager's own reconnection of this socket
    if (variant === "backoff") {
      failures += 1;
      const base = Math.min(cfg.reconnectionDelay * Math.pow(2, failures - 1), cfg.reconnectionDelayMax);
      notBefore = Date.now() + base * (0.5 + Math.random());
    }
    report("singleton.reset", { variant: variant, reason: reason, failures: failures });
    show("reset (" + reason + "); a new socket on the next tick");
  }

  function wire(socket, number) {
    const manager = socket.io;
    let joined = false;
    const engineId = function () { return manager.engine ? manager.engine.id : null; };

    // The app's own handlers: the server's numbered heartbeat (SIOLAB_TICK_MS) and its numbered emits to
    // the room `news` (SIOLAB_ROOM_TICK_MS), one report per call of the handler (which of its emits
    // reached the page, and how many times the page's code ran for each).
    function appHandlers() {
      socket.on("hello", function (data) { showMessage("hello " + JSON.stringify(data)); });
      socket.on("message", function (data) { showMessage("message " + JSON.stringify(data)); });
      socket.on("tick", function (data) {
        report("sio.event", { event: "tick", n: data && data.n, namespace: namespace, socket: number, eio_sid: engineId() });
      });
      socket.on("room_tick", function (data) {
        report("sio.event", { event: "room_tick", n: data && data.n, boot: data && data.boot, namespace: namespace, socket: number });
      });
    }

    socket.on("connect", function () {
      failures = 0;
      const engine = manager.engine;
      const transport = engine && engine.transport ? engine.transport.name : null;
      report("sio.connect", {
        sid: socket.id,
        eio_sid: engine ? engine.id : null,
        transport: transport,
        namespace: namespace,
        recovered: socket.recovered === undefined ? null : socket.recovered,
        socket: number,
      });
      show("connected " + namespace + " sid=" + socket.id + " transport=" + transport);
      if (cfg.join === "every" || (cfg.join === "once" && !joined)) {
        joined = true;
        socket.emit("join", "news");
        report("sio.join", { room: "news", sid: socket.id, namespace: namespace });
      }
      if (HANDLERS_IN_CONNECT) appHandlers();   // the mistake: one more set of handlers per (re)connection
    });
    if (!HANDLERS_IN_CONNECT) appHandlers();

    socket.on("disconnect", function (reason) {
      report("sio.disconnect", { reason: reason, namespace: namespace, socket: number });
      show("disconnected: " + reason);
      if (RESETS && RESET_ON_DISCONNECT.indexOf(reason) >= 0) reset(socket, reason);
    });

    socket.on("connect_error", function (err) {
      const message = err && err.message ? err.message : String(err);
      report("sio.connect_error", { message: message, namespace: namespace });
      show("connect_error: " + message);
      if (RESETS) reset(socket, "connect_error");
    });

    manager.on("reconnect_attempt", function (attempt) {
      report("sio.reconnect_attempt", { attempt: attempt });
    });

    // The manager makes a new engine for every (re)connection; watch each one's upgrade.
    manager.on("open", function () {
      manager.engine.on("upgrade", function (transport) {
        report("sio.upgrade", { transport: transport.name, socket: number });
        show("connected " + namespace + " sid=" + socket.id + " transport=" + transport.name);
      });
    });
  }

  // A second io() for the same namespace gets a new Manager (socket.io-client does not
  // reuse a cached one that already has this namespace): a fresh socket, a fresh handshake.
  // cfg.url: a socket on another origin than the page's (the wrong-origin incident).
  // The same call works with socket.io-client 2.x (?client=v2), which the page may load instead.
  function newSocket(by) {
    const target = (cfg.url || "") + (namespace === "/" ? "" : namespace);
    const socket = target ? io(target, clientOptions()) : io(clientOptions());
    sockets += 1;
    report("sio.socket", { socket: sockets, by: by });
    wire(socket, sockets);
    return socket;
  }

  function getAppSocket() {
    if (window.__appSocket) return window.__appSocket;
    if (Date.now() < notBefore) return null;  // backoff: not yet
    const socket = newSocket("getAppSocket");
    window.__appSocket = socket;
    report("singleton.create", { variant: variant, socket: sockets });
    return socket;
  }

  window.getAppSocket = getAppSocket;
  getAppSocket();
  // mounts 2: the page's second mount makes its own socket, as a component whose effect calls io() and
  // has no cleanup does when React StrictMode mounts it twice; nothing ever closes it.
  for (let mount = 2; mount <= (cfg.mounts || 1); mount++) newSocket("mount " + mount);
  setInterval(getAppSocket, cfg.tickMs || cfg.reconnectionDelay || 1000);
})();
