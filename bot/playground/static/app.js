// The playground page: shows a channel as the server renders it (polled), sends what is typed and
// clicked to the server, which signs it as Slack would. No secret ever reaches this page.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { channel: null, version: "", channels: [], names: {} };

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const resp = await fetch(path, init);
  const data = await resp.json();
  if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
  return data;
}

function say(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function user() { return $("as").value; }

function pick(channel) {
  state.channel = channel;
  state.version = "";
  for (const a of document.querySelectorAll(".chan")) a.classList.toggle("active", a.dataset.id === channel.id);
  $("chan-name").textContent = "#" + channel.name;
  $("chan-title").textContent = channel.title;
  $("text").placeholder = "Try: " + channel.hint;
  $("text").value = "";
  $("feed").innerHTML = "";
  refresh();
}

async function refresh() {
  if (!state.channel) return;
  const wanted = state.channel.id;
  try {
    const data = await api(`/api/channel?channel=${encodeURIComponent(wanted)}&user=${encodeURIComponent(user())}`);
    if (wanted !== state.channel.id) return;
    if (data.version !== state.version) {
      const feed = $("feed");
      const atBottom = feed.scrollHeight - feed.scrollTop - feed.clientHeight < 80;
      feed.innerHTML = data.html;
      feed.dataset.version = state.version = data.version;
      if (atBottom) feed.scrollTop = feed.scrollHeight;
    }
    showRecords(data.records);
  } catch (err) {
    say("Cannot reach the playground: " + err.message, true);
  }
}

function showRecords(records) {
  const list = $("record-list");
  list.replaceChildren(...records.map((r) => {
    const div = document.createElement("div");
    div.className = "rec";
    const who = state.names[r.requested_by] || r.requested_by;
    div.textContent = `${r.at} ${r.op}: ${r.action} ${r.target} (proposal ${r.proposal_id}, asked by ${who})`;
    return div;
  }));
}

async function send(event) {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  say("Sending…");
  try {
    const data = await api("/api/send", { channel: state.channel.id, user: user(), text });
    $("text").value = "";
    say(data.status === 200 ? "" : `The app answered HTTP ${data.status}`, data.status !== 200);
  } catch (err) {
    say(err.message, true);
  }
  refresh();
}

function confirmFirst(confirm) {
  // Slack's confirm dialog: nothing is sent unless the person confirms.
  if (!confirm) return Promise.resolve(true);
  const text = (obj, fallback) => (obj && obj.text) || fallback;
  $("confirm-title").textContent = text(confirm.title, "Are you sure?");
  $("confirm-text").innerHTML = confirm.html || "";  // rendered and escaped by the server
  $("confirm-ok").textContent = text(confirm.confirm, "Yes");
  $("confirm-deny").textContent = text(confirm.deny, "Cancel");
  $("confirm-ok").className = "sk-btn " + (confirm.style === "danger" ? "sk-danger" : "sk-primary");
  $("confirm").classList.add("open");
  return new Promise((resolve) => {
    const done = (answer) => () => { $("confirm").classList.remove("open"); resolve(answer); };
    $("confirm-ok").onclick = done(true);
    $("confirm-deny").onclick = done(false);
  });
}

async function click(button) {
  if (button.dataset.url) { window.open(button.dataset.url, "_blank", "noopener"); }
  if (!button.dataset.actionId) return;
  const confirm = button.dataset.confirm ? JSON.parse(button.dataset.confirm) : null;
  if (!(await confirmFirst(confirm))) return;
  const msg = button.closest(".sk-msg");
  button.disabled = true;
  say("Sending the click…");
  try {
    const data = await api("/api/click", {
      channel: state.channel.id, user: user(), message_ts: msg.dataset.ts,
      action_id: button.dataset.actionId, value: button.dataset.value, block_id: button.dataset.blockId,
    });
    say(data.status === 200 ? "" : `The app answered HTTP ${data.status}`, data.status !== 200);
  } catch (err) {
    say(err.message, true);
    button.disabled = false;
  }
  refresh();
}

async function openFile(id) {
  try {
    const file = await api(`/api/files/${encodeURIComponent(id)}`);
    $("file-title").textContent = file.title;
    $("file-text").textContent = file.text;
    $("file").classList.add("open");
  } catch (err) {
    say(err.message, true);
  }
}

async function start() {
  const ws = await api("/api/workspace");
  state.channels = ws.channels;
  for (const u of ws.users) {
    state.names[u.id] = u.real_name;
    const opt = document.createElement("option");
    opt.value = u.id;
    opt.textContent = `${u.real_name} (@${u.name})`;
    $("as").append(opt);
  }
  for (const c of ws.channels) {
    const a = document.createElement("a");
    a.className = "chan";
    a.dataset.id = c.id;
    a.textContent = "# " + c.name;
    const small = document.createElement("small");
    small.textContent = c.title;
    a.append(small);
    a.onclick = () => { $("as").value = c.triage_user; pick(c); };
    $("channels").append(a);
  }
  $("as").value = ws.channels[0].triage_user;
  $("as").onchange = () => { state.version = ""; refresh(); };
  $("composer").onsubmit = send;
  $("feed").onclick = (event) => {
    const button = event.target.closest("button.sk-btn");
    if (button) { click(button); return; }
    const file = event.target.closest("a.sk-file");
    if (file) { event.preventDefault(); openFile(file.dataset.fileId); }
  };
  $("file-close").onclick = () => $("file").classList.remove("open");
  pick(ws.channels[0]);
  setInterval(refresh, 500);
}

start().catch((err) => say("The playground did not start: " + err.message, true));
