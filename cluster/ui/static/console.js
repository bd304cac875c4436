// vproc console: a client of the agent's HTTP API, like the CLI.
"use strict";

(function () {
  const TOKEN_KEY = "vproc-token";
  const TOKEN_HEADER = "X-Vproc-Token";
  const MAX_LOG_CHARS = 1 << 20; // the log view keeps the last 1 MiB
  const MAX_EVENTS = 500;

  const $ = (id) => document.getElementById(id);
  const state = {
    procs: [],
    procsIndex: 0,
    sortKey: "pid",
    sortDir: 1,
    selected: 0,
    generation: 0, // bumped when the token changes: loops of an older one stop
    abort: null, // aborts the current generation's requests
    procsAbort: null, // aborts the process list's pending blocking query
  };

  // ---- API -----------------------------------------------------------

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    const tok = sessionStorage.getItem(TOKEN_KEY);
    if (tok) {
      h[TOKEN_HEADER] = tok;
    }
    return h;
  }

  // apiError reads the API's {code, message} error body.
  async function apiError(resp) {
    let msg = resp.status + " " + resp.statusText;
    try {
      const body = await resp.json();
      if (body && body.message) {
        msg = body.message + " (" + (body.code || resp.status) + ")";
      }
    } catch (e) {
      // not JSON: keep the status line
    }
    const err = new Error(msg);
    err.status = resp.status;
    return err;
  }

  async function getJSON(path, signal) {
    const resp = await fetch(path, { headers: headers(), signal: signal });
    if (!resp.ok) {
      throw await apiError(resp);
    }
    return resp.json();
  }

  async function postJSON(path, body) {
    const resp = await fetch(path, {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    });
    if (!resp.ok) {
      throw await apiError(resp);
    }
    return resp.json();
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // ---- small DOM helpers ---------------------------------------------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) {
      e.className = cls;
    }
    if (text !== undefined && text !== null) {
      e.textContent = String(text);
    }
    return e;
  }

  function showError(id, err) {
    const p = $(id);
    if (err) {
      p.textContent = String(err.message || err);
      p.hidden = false;
    } else {
      p.hidden = true;
    }
  }

  function pill(kind, value) {
    return el("span", kind + " " + kind + "-" + value, value);
  }

  // ---- health and nodes ----------------------------------------------

  async function healthLoop(gen) {
    while (gen === state.generation) {
      try {
        const resp = await fetch("/v1/health", { headers: headers(), signal: state.abort.signal });
        const h = await resp.json();
        $("health").textContent = h.ok
          ? "node " + h.node + " · leader " + h.leader
          : "node " + h.node + " · " + (h.disk || "no leader");
      } catch (e) {
        $("health").textContent = "agent unreachable: " + e.message;
      }
      await sleep(5000);
    }
  }

  async function nodesLoop(gen) {
    while (gen === state.generation) {
      try {
        const list = await getJSON("/v1/nodes", state.abort.signal);
        renderNodes(list.nodes || []);
        showError("nodes-error", null);
      } catch (e) {
        showError("nodes-error", e);
      }
      await sleep(2000);
    }
  }

  function renderNodes(nodes) {
    const tbody = $("nodes").tBodies[0];
    tbody.replaceChildren();
    nodes.sort((a, b) => a.name.localeCompare(b.name));
    for (const n of nodes) {
      const tr = el("tr");
      tr.dataset.node = n.name;
      tr.append(el("td", "name", n.name));
      const st = el("td");
      st.append(pill("status", n.status));
      tr.append(st);
      tr.append(el("td", "role", n.leader ? "leader" : n.voter ? "voter" : "non-voter"));
      const ls = el("td");
      ls.append(n.lease ? pill("lease", n.lease) : el("span", "muted", "unknown"));
      tr.append(ls);
      const load = n.load || {};
      tr.append(el("td", "num", (load.busy_slots || 0) + " / " + n.slots));
      tr.append(el("td", "num", load.run_queue || 0));
      tr.append(el("td", "num", load.procs || 0));
      tr.append(el("td", "num", (n.assigned || 0) + " / " + (n.capacity || 0)));
      tr.append(el("td", "mono", n.http_addr));
      tbody.append(tr);
    }
  }

  // ---- processes -----------------------------------------------------

  // procsLoop follows the table with blocking queries: each answer comes
  // once the table has moved past the index of the previous one.
  async function procsLoop(gen) {
    let index = 0;
    while (gen === state.generation) {
      const q = new URLSearchParams();
      if ($("proc-all").checked) {
        q.set("all", "");
      }
      if (index > 0) {
        q.set("index", String(index));
        q.set("wait", "30s");
      }
      const ctl = new AbortController();
      state.procsAbort = ctl;
      const gone = state.abort.signal;
      gone.addEventListener("abort", () => ctl.abort(), { once: true });
      try {
        const list = await getJSON("/v1/procs?" + q.toString(), ctl.signal);
        if (gen !== state.generation) {
          return;
        }
        state.procs = list.processes || [];
        index = list.index || 0;
        showError("procs-error", null);
        renderProcs();
      } catch (e) {
        index = 0;
        if (ctl.signal.aborted) {
          continue; // the query changed ("exited and lost"): ask again now
        }
        showError("procs-error", e);
        await sleep(2000);
      }
    }
  }

  function commandLine(p) {
    return [p.command].concat(p.args || []).map(quoteArg).join(" ");
  }

  function quoteArg(a) {
    if (a !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(a)) {
      return a;
    }
    return "'" + a.replace(/'/g, "'\\''") + "'";
  }

  // SIGNALS names the signals by number, as signal(7) on Linux.
  const SIGNALS = [
    "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
    "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM",
    "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU",
    "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",
    "SIGPWR", "SIGSYS",
  ];

  function exitText(p) {
    if (p.state === "exited") {
      if (p.signal !== null && p.signal !== undefined) {
        return "exited (" + (SIGNALS[p.signal] || "signal " + p.signal) + (p.core ? ", core" : "") + ")";
      }
      return "exited (" + p.exit_code + ")";
    }
    if (p.state === "pending" && p.pending_reason) {
      return "pending: " + p.pending_reason;
    }
    return p.state;
  }

  // timeText shows an API time, or a dash for none (init has none).
  function timeText(t) {
    const d = t ? new Date(t) : null;
    if (!d || isNaN(d) || d.getUTCFullYear() <= 1970) {
      return "–";
    }
    return d.toLocaleString();
  }

  function visibleProcs() {
    const f = $("proc-filter").value.trim().toLowerCase();
    const want = $("proc-state").value;
    const out = state.procs.filter((p) => {
      if (want && p.state !== want) {
        return false;
      }
      if (!f) {
        return true;
      }
      const hay = [String(p.pid), p.state, p.node, p.owner, commandLine(p)].join(" ").toLowerCase();
      return hay.includes(f);
    });
    const k = state.sortKey;
    const dir = state.sortDir;
    out.sort((a, b) => {
      let x = k === "command" ? commandLine(a) : a[k];
      let y = k === "command" ? commandLine(b) : b[k];
      if (x === undefined || x === null) x = "";
      if (y === undefined || y === null) y = "";
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return c !== 0 ? c * dir : (a.pid - b.pid) * dir;
    });
    return out;
  }

  function renderProcs() {
    const rows = visibleProcs();
    const tbody = $("procs").tBodies[0];
    tbody.replaceChildren();
    for (const p of rows) {
      const tr = el("tr");
      tr.dataset.pid = String(p.pid);
      tr.dataset.state = p.state;
      if (p.pid === state.selected) {
        tr.classList.add("selected");
      }
      tr.append(el("td", "num", p.pid));
      tr.append(el("td", "num", p.ppid));
      const st = el("td", "state-cell");
      st.append(el("span", "state state-" + p.state, exitText(p)));
      tr.append(st);
      tr.append(el("td", "node", p.node || "–"));
      tr.append(el("td", "owner", p.owner));
      tr.append(el("td", "num", p.priority));
      tr.append(el("td", "num", p.cpu_ms || 0));
      tr.append(el("td", null, timeText(p.created_at)));
      const cmd = commandLine(p);
      const td = el("td", "cmd", cmd);
      td.title = cmd;
      tr.append(td);
      tr.addEventListener("click", () => select(p.pid));
      tbody.append(tr);
    }
    $("procs-count").textContent = rows.length + " of " + state.procs.length + " shown";
    for (const th of $("procs").tHead.rows[0].cells) {
      th.classList.toggle("sorted-asc", th.dataset.key === state.sortKey && state.sortDir > 0);
      th.classList.toggle("sorted-desc", th.dataset.key === state.sortKey && state.sortDir < 0);
    }
    renderDetail();
  }

  function selectedProc() {
    return state.procs.find((p) => p.pid === state.selected);
  }

  function renderDetail() {
    const p = selectedProc();
    if (!state.selected) {
      $("detail-panel").hidden = true;
      return;
    }
    $("detail-panel").hidden = false;
    $("detail-pid").textContent = String(state.selected);
    const st = $("detail-state");
    if (p) {
      st.textContent = exitText(p);
      st.className = "state state-" + p.state;
      $("detail-cmd").textContent = commandLine(p) + (p.node ? "  on " + p.node : "") + "  (process group " + p.pgid + ")";
    } else {
      st.textContent = "reaped";
      st.className = "state";
    }
  }

  // ---- the selected process: its log and signals ---------------------

  let logAbort = null;

  function select(pid) {
    if (pid === state.selected) {
      return;
    }
    state.selected = pid;
    $("kill-result").textContent = "";
    renderProcs();
    startLog(pid);
  }

  function stopLog() {
    if (logAbort) {
      logAbort.abort();
      logAbort = null;
    }
  }

  function appendLog(text) {
    const out = $("log-output");
    let s = out.textContent + text;
    if (s.length > MAX_LOG_CHARS) {
      s = s.slice(s.length - MAX_LOG_CHARS);
    }
    out.textContent = s;
    if ($("log-follow").checked) {
      out.scrollTop = out.scrollHeight;
    }
  }

  // startLog streams pid's output with ?follow from the start, and again
  // from where it stopped if the stream breaks while the process lives.
  async function startLog(pid) {
    stopLog();
    const ctl = new AbortController();
    logAbort = ctl;
    $("log-output").textContent = "";
    const status = $("log-status");
    let offset = 0;
    while (!ctl.signal.aborted) {
      status.textContent = "following…";
      try {
        const resp = await fetch("/v1/procs/" + pid + "/logs?follow&offset=" + offset, {
          headers: headers(),
          signal: ctl.signal,
        });
        if (!resp.ok) {
          throw await apiError(resp);
        }
        const reader = resp.body.getReader();
        const dec = new TextDecoder();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            break;
          }
          offset += value.length;
          appendLog(dec.decode(value, { stream: true }));
        }
        appendLog(dec.decode());
        status.textContent = "end of output";
        return;
      } catch (e) {
        if (ctl.signal.aborted) {
          return;
        }
        status.textContent = "log unavailable: " + e.message;
        const p = selectedProc();
        if (e.status === 404 || e.status === 403 || (p && (p.state === "exited" || p.state === "lost"))) {
          return;
        }
        await sleep(1000);
      }
    }
  }

  async function kill(ev) {
    ev.preventDefault();
    const pid = state.selected;
    const sel = $("kill-signal");
    const sig = Number(sel.value);
    const name = sel.options[sel.selectedIndex].text.split(" ")[0];
    const out = $("kill-result");
    // A process group is the target -pgid, as in kill(1) and kill(2).
    const p = selectedProc();
    const group = $("kill-group").checked && p && p.pgid > 1;
    const target = group ? -p.pgid : pid;
    const whom = group ? "process group " + p.pgid : String(pid);
    out.className = "result";
    out.textContent = "sending " + name + "…";
    try {
      const res = await postJSON("/v1/kill", { targets: [target], signal: sig });
      if (res.errors && res.errors.length > 0) {
        throw new Error(res.errors.map((e) => e.message).join("; "));
      }
      const n = (res.reached || []).length;
      out.textContent = name + " sent to " + whom + (group ? " (" + n + (n === 1 ? " process)" : " processes)") : "");
    } catch (e) {
      out.className = "result error";
      out.textContent = "kill " + whom + ": " + e.message;
    }
  }

  // ---- spawn ---------------------------------------------------------

  // splitCommandLine splits a command line into words as a POSIX shell
  // does for quoting: '...' keeps everything, "..." keeps everything but
  // \" \\ \$ \`, and a backslash outside quotes keeps the next character.
  function splitCommandLine(s) {
    const words = [];
    let cur = "";
    let inWord = false;
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c === "'") {
        const end = s.indexOf("'", i + 1);
        if (end < 0) {
          throw new Error("unterminated ' quote");
        }
        cur += s.slice(i + 1, end);
        i = end;
        inWord = true;
      } else if (c === '"') {
        let j = i + 1;
        for (; j < s.length && s[j] !== '"'; j++) {
          if (s[j] === "\\" && j + 1 < s.length && '"\\$`'.includes(s[j + 1])) {
            j++;
          }
          cur += s[j];
        }
        if (j >= s.length) {
          throw new Error('unterminated " quote');
        }
        i = j;
        inWord = true;
      } else if (c === "\\") {
        if (i + 1 < s.length) {
          cur += s[++i];
        }
        inWord = true;
      } else if (/\s/.test(c)) {
        if (inWord) {
          words.push(cur);
          cur = "";
          inWord = false;
        }
      } else {
        cur += c;
        inWord = true;
      }
    }
    if (inWord) {
      words.push(cur);
    }
    return words;
  }

  async function spawn(ev) {
    ev.preventDefault();
    const out = $("spawn-result");
    out.className = "result";
    delete out.dataset.pid;
    let words;
    try {
      words = splitCommandLine($("spawn-cmd").value);
      if (words.length === 0) {
        throw new Error("the command line is empty");
      }
    } catch (e) {
      out.className = "result error";
      out.textContent = "spawn: " + e.message;
      return;
    }
    const req = { command: words[0], args: words.slice(1) };
    const pri = $("spawn-priority").value.trim();
    if (pri !== "") {
      req.priority = Number(pri);
    }
    const node = $("spawn-node").value.trim();
    if (node !== "") {
      req.node = node;
    }
    out.textContent = "spawning…";
    try {
      const res = await postJSON("/v1/spawn", req);
      out.dataset.pid = String(res.pid);
      out.textContent = "spawned pid " + res.pid;
      select(res.pid);
    } catch (e) {
      out.className = "result error";
      out.textContent = "spawn: " + e.message;
    }
  }

  // ---- events --------------------------------------------------------

  function eventLine(e) {
    const li = el("li");
    li.dataset.topic = e.topic || "";
    li.dataset.type = e.type || "";
    if (e.pid !== undefined) {
      li.dataset.pid = String(e.pid);
    }
    const t = e.time ? new Date(e.time).toLocaleTimeString() : "";
    li.append(el("span", "time", t + " "));
    li.append(el("span", "topic", e.topic || ""));
    li.append(el("span", "type", e.type || ""));
    const parts = [];
    if (e.pid !== undefined) parts.push("pid " + e.pid);
    if (e.node) parts.push("node " + e.node);
    if (e.detail) parts.push(JSON.stringify(e.detail));
    li.append(el("span", "what", parts.join(" · ") + " "));
    li.append(el("span", "index", "#" + e.index));
    return li;
  }

  function addEvent(e) {
    const list = $("events");
    list.prepend(eventLine(e));
    while (list.children.length > MAX_EVENTS) {
      list.lastElementChild.remove();
    }
  }

  // eventsLoop follows GET /v1/events, resuming after the last index seen
  // when the stream ends or the agent drops it as a slow reader.
  async function eventsLoop(gen) {
    const status = $("events-status");
    let index = 0;
    while (gen === state.generation) {
      const q = index > 0 ? "?index=" + index : "";
      try {
        const resp = await fetch("/v1/events" + q, { headers: headers(), signal: state.abort.signal });
        if (resp.status === 404) {
          status.textContent = "event stream unavailable";
          $("events-panel").dataset.state = "unavailable";
          return;
        }
        if (resp.status === 410) {
          // Our index is older than the agent's buffer: the events in
          // between are gone. Say so, and follow from now on.
          let oldest = "?";
          try {
            oldest = (await resp.json()).oldest_index;
          } catch (e) {
            // no body: the gap's start is unknown
          }
          addEvent({
            topic: "stream",
            type: "gap",
            index: index,
            detail: { reason: "events after " + index + " were missed; oldest index " + oldest },
          });
          index = 0;
          continue;
        }
        if (!resp.ok) {
          throw await apiError(resp);
        }
        status.textContent = "live";
        $("events-panel").dataset.state = "live";
        const reader = resp.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { done, value } = await reader.read();
          if (done || gen !== state.generation) {
            break;
          }
          buf += dec.decode(value, { stream: true });
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) {
              continue;
            }
            const e = JSON.parse(line);
            if (typeof e.index === "number" && e.index > index) {
              index = e.index;
            }
            if (e.type !== "heartbeat") {
              addEvent(e);
            }
          }
        }
        reader.cancel().catch(() => {});
        status.textContent = "reconnecting…";
      } catch (e) {
        if (gen !== state.generation) {
          return;
        }
        status.textContent = "events: " + e.message + "; retrying";
      }
      await sleep(2000);
    }
  }

  // ---- start ---------------------------------------------------------

  function start() {
    if (state.abort) {
      state.abort.abort();
    }
    state.abort = new AbortController();
    state.generation++;
    const gen = state.generation;
    healthLoop(gen);
    nodesLoop(gen);
    procsLoop(gen);
    eventsLoop(gen);
  }

  function init() {
    $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const tok = $("token").value.trim();
      if (tok) {
        sessionStorage.setItem(TOKEN_KEY, tok);
      } else {
        sessionStorage.removeItem(TOKEN_KEY);
      }
      $("events").replaceChildren();
      start();
      if (state.selected) {
        startLog(state.selected);
      }
    });
    $("spawn-form").addEventListener("submit", spawn);
    $("kill-form").addEventListener("submit", kill);
    $("proc-filter").addEventListener("input", renderProcs);
    $("proc-state").addEventListener("change", renderProcs);
    $("proc-all").addEventListener("change", () => {
      if (state.procsAbort) {
        state.procsAbort.abort();
      }
    });
    for (const th of $("procs").tHead.rows[0].cells) {
      th.addEventListener("click", () => {
        if (state.sortKey === th.dataset.key) {
          state.sortDir = -state.sortDir;
        } else {
          state.sortKey = th.dataset.key;
          state.sortDir = 1;
        }
        renderProcs();
      });
    }
    start();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
