// The TV panel of one unit (/panel/{unit}): follows WatchPanel through the
// edge as Server-Sent Events, shows the current call large and the last
// ones, announces each new call (a chime, then the code and desk spoken in
// Portuguese), and reconnects by itself with the cursor of the last message,
// so a dropped connection or a server restart loses and repeats nothing.
"use strict";

const unit = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const RECENT = 6;
// The server sends a heartbeat every 10 s; silence for longer means a dead
// connection the browser has not noticed.
const SILENCE_MS = 25000;

let cursor = "";
let recent = [];
let controller = null;
let failures = 0;
let watchdog = null;
let soundOn = false;
let audio = null;

const $ = (id) => document.getElementById(id);

function setStatus(state, text) {
  const el = $("status");
  el.dataset.state = state;
  el.textContent = text;
}

function render() {
  const current = recent[0];
  $("current-code").textContent = current ? current.code : "—";
  $("current-desk").textContent = current ? current.deskName : "";
  $("current-service").textContent = current ? current.serviceName : "";
  const list = $("recent");
  list.replaceChildren(...recent.slice(1).map((call) => {
    const li = document.createElement("li");
    const code = document.createElement("span");
    code.className = "code";
    code.textContent = call.code;
    const desk = document.createElement("span");
    desk.className = "desk";
    desk.textContent = call.deskName;
    li.append(code, desk);
    return li;
  }));
  $("no-calls").hidden = recent.length > 0;
}

function chime() {
  if (!soundOn) return;
  audio = audio || new AudioContext();
  const now = audio.currentTime;
  [[880, 0], [660, 0.35]].forEach(([freq, at]) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + at);
    gain.gain.exponentialRampToValueAtTime(0.4, now + at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.6);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + at);
    osc.stop(now + at + 0.65);
  });
}

// "A012" is read letter by letter and then as a number: "A, doze".
function spoken(call) {
  const letters = call.code.replace(/[0-9]/g, "").split("").join(", ");
  const number = parseInt(call.code.replace(/[^0-9]/g, ""), 10);
  return `Senha ${letters}, ${Number.isNaN(number) ? "" : number}. ${call.deskName}.`;
}

function announce(call) {
  const current = $("current");
  current.classList.remove("flash");
  void current.offsetWidth; // restart the animation
  current.classList.add("flash");
  chime();
  if (soundOn && "speechSynthesis" in window) {
    const utterance = new SpeechSynthesisUtterance(spoken(call));
    utterance.lang = "pt-BR";
    setTimeout(() => speechSynthesis.speak(utterance), 900);
  }
}

function handle(message) {
  if (message.snapshot) {
    cursor = message.snapshot.cursor || "0";
    recent = (message.snapshot.recent || []).slice(0, RECENT);
    if (message.snapshot.unitName) {
      $("unit-name").textContent = message.snapshot.unitName;
      document.title = `Painel — ${message.snapshot.unitName}`;
    }
    render();
  } else if (message.call) {
    cursor = message.call.cursor;
    recent = [message.call, ...recent].slice(0, RECENT);
    render();
    announce(message.call);
  } else if (message.heartbeat) {
    cursor = message.heartbeat.cursor || cursor;
  }
}

function reconnect(why) {
  if (controller) controller.abort();
  controller = null;
  clearTimeout(watchdog);
  failures += 1;
  setStatus("reconnecting", "reconectando…");
  const delay = Math.min(250 * 2 ** Math.min(failures - 1, 4), 4000);
  console.debug("panel reconnecting", why, "in", delay, "ms from cursor", cursor);
  setTimeout(connect, delay);
}

// Server-Sent Events read with fetch rather than EventSource: EventSource
// retries with its first URL and hides the HTTP status, and the panel must
// resume with its latest cursor, and start over only when the server says
// the cursor is not its own (400).
async function connect() {
  const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
  const url = `/v1/queue/units/${encodeURIComponent(unit)}/panel:watch${query}`;
  const mine = new AbortController();
  controller = mine;
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => reconnect("silence"), SILENCE_MS);
  };
  arm();
  try {
    const response = await fetch(url, { headers: { accept: "text/event-stream" }, signal: mine.signal });
    if (response.status === 400 && cursor) {
      console.warn("panel cursor refused; starting from a snapshot", await response.text());
      cursor = "";
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      arm(); // comment heartbeats count too
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = event.split("\n");
        const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
        if (!data) continue;
        if (lines.some((l) => l.startsWith("event: error"))) throw new Error(`stream ended: ${data}`);
        failures = 0;
        setStatus("live", "ao vivo");
        handle(JSON.parse(data));
      }
    }
    throw new Error("stream closed");
  } catch (error) {
    if (controller === mine) reconnect(String(error));
  }
}

$("sound").addEventListener("click", () => {
  soundOn = true;
  audio = audio || new AudioContext();
  audio.resume();
  $("sound").hidden = true;
});

setInterval(() => {
  $("clock").textContent = new Date().toLocaleTimeString("pt-BR", { hour: "2-digit", minute: "2-digit" });
}, 1000);

render();
connect();
