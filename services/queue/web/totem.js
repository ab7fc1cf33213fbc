// The totem of one unit (/totem/{unit}): the unit's services as big
// buttons, then normal or one of the legal preferential groups, then the
// issued code and how many people are ahead.
//
// Nothing anonymous issues tickets: the totem signs in with a service
// account holding only the `totem` role (read the unit, issue tickets). It
// is set up once by opening /totem/{unit}#client_id=…&client_secret=… (the
// fragment never reaches a server; the page keeps the pair in this
// browser's localStorage and removes it from the address bar), or by typing
// the pair into the setup form. Each ticket is issued with its own
// request_id, so a retry after a network error never issues two.
"use strict";

const unit = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const STORE = `malha.totem.${unit}`;
const SHOW_ISSUED_MS = 8000;

// Lei 10.048/2000 (as amended by Lei 14.626/2023) and Lei 13.466/2017.
const PRIORITIES = [
  ["PRIORITY_AGED_80_PLUS", "80 anos ou mais"],
  ["PRIORITY_AGED_60_PLUS", "60 anos ou mais"],
  ["PRIORITY_DISABILITY", "Pessoa com deficiência ou autismo"],
  ["PRIORITY_PREGNANT", "Gestante"],
  ["PRIORITY_NURSING", "Lactante"],
  ["PRIORITY_SMALL_CHILD", "Com criança de colo"],
  ["PRIORITY_OBESE", "Pessoa obesa"],
  ["PRIORITY_REDUCED_MOBILITY", "Mobilidade reduzida"],
  ["PRIORITY_BLOOD_DONOR", "Doador(a) de sangue"],
];

const $ = (id) => document.getElementById(id);
let token = null; // { value, expires }
let back = null;

function show(step) {
  for (const id of ["services-step", "priority-step", "issued-step", "setup-step"]) {
    $(id).hidden = id !== step;
  }
}

function error(text) {
  $("error").textContent = text || "";
}

function credentials() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("client_id") && fragment.get("client_secret")) {
    localStorage.setItem(STORE, JSON.stringify({
      clientId: fragment.get("client_id"),
      clientSecret: fragment.get("client_secret"),
    }));
    history.replaceState(null, "", location.pathname);
  }
  try {
    return JSON.parse(localStorage.getItem(STORE));
  } catch {
    return null;
  }
}

class SetupNeeded extends Error {}

async function accessToken() {
  if (token && token.expires - Date.now() > 30000) return token.value;
  const account = credentials();
  if (!account) throw new SetupNeeded("este totem ainda não foi configurado");
  const response = await fetch("/v1/identity/token:client-credentials", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(account),
  });
  if (response.status === 401 || response.status === 400 || response.status === 403) {
    localStorage.removeItem(STORE);
    throw new SetupNeeded("a conta deste totem foi recusada; configure-o de novo");
  }
  if (!response.ok) throw new Error(`identity answered ${response.status}`);
  const { tokens } = await response.json();
  token = { value: tokens.accessToken, expires: Date.now() + Number(tokens.expiresIn) * 1000 };
  return token.value;
}

async function api(method, path, body) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const response = await fetch(path, {
        method,
        headers: { authorization: `Bearer ${await accessToken()}`, "content-type": "application/json" },
        body: body ? JSON.stringify(body) : undefined,
      });
      if (response.status === 401 && attempt === 0) {
        token = null;
        continue;
      }
      const json = await response.json().catch(() => ({}));
      if (!response.ok) throw Object.assign(new Error(json.message || `HTTP ${response.status}`), { final: true });
      return json;
    } catch (e) {
      // Network failures are retried with the same body (and request_id).
      if (e instanceof SetupNeeded || e.final || attempt >= 2) throw e;
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
  }
}

function requestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function button(label, sub, onClick, className) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (className) b.className = className;
  if (sub) {
    const s = document.createElement("span");
    s.className = "letter";
    s.textContent = sub;
    b.append(s);
  }
  b.addEventListener("click", onClick);
  return b;
}

async function issue(service, priority) {
  error("");
  try {
    const { ticket, peopleAhead } = await api("POST", `/v1/queue/units/${encodeURIComponent(unit)}/tickets`, {
      serviceId: service.id,
      priority,
      requestId: requestId(),
    });
    $("issued-code").textContent = ticket.code;
    $("issued-service").textContent = service.name;
    const ahead = Number(peopleAhead || 0);
    $("issued-ahead").textContent = ahead === 0 ? "Você é o próximo." : `${ahead} ${ahead === 1 ? "pessoa" : "pessoas"} na sua frente.`;
    show("issued-step");
    clearTimeout(back);
    back = setTimeout(() => show("services-step"), SHOW_ISSUED_MS);
  } catch (e) {
    failed(e);
  }
}

function choosePriority(service) {
  $("priority-title").textContent = `${service.name}: você tem direito a atendimento preferencial?`;
  $("priorities").replaceChildren(
    button("Não, atendimento normal", null, () => issue(service, "PRIORITY_NORMAL"), "normal"),
    ...PRIORITIES.map(([value, label]) => button(label, "preferencial", () => issue(service, value))),
  );
  show("priority-step");
}

function failed(e) {
  if (e instanceof SetupNeeded) {
    show("setup-step");
    error(e.message);
  } else {
    error(`Não foi possível agora (${e.message}). Tente de novo ou procure a recepção.`);
  }
}

async function load() {
  error("");
  try {
    const { unit: info } = await api("GET", `/v1/queue/units/${encodeURIComponent(unit)}`);
    $("unit-name").textContent = info.name;
    document.title = `Totem — ${info.name}`;
    const { services } = await api("GET", `/v1/queue/units/${encodeURIComponent(unit)}/services?pageSize=50`);
    $("services").replaceChildren(...(services || []).map((s) =>
      Object.assign(button(s.name, `senha ${s.letter}`, () => choosePriority(s)), { id: `service-${s.letter}` })));
    show("services-step");
  } catch (e) {
    failed(e);
  }
}

$("back").addEventListener("click", () => show("services-step"));
$("setup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem(STORE, JSON.stringify({
    clientId: $("client-id").value.trim(),
    clientSecret: $("client-secret").value.trim(),
  }));
  token = null;
  load();
});
setInterval(() => {
  $("clock").textContent = new Date().toLocaleTimeString("pt-BR", { hour: "2-digit", minute: "2-digit" });
}, 1000);
load();
