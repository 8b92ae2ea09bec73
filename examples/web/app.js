// Tally example app: plain JavaScript against the HTTP API (API.md), no
// framework and no build step. Tokens live in sessionStorage (this tab only).
"use strict";

const $ = (id) => document.getElementById(id);
const store = window.sessionStorage;

// ---------------------------------------------------------------- messages

const MESSAGES = {
  INSUFFICIENT_CREDITS: "Not enough credits for that.",
  MAX_ACTIVE_GENERATIONS: "You already have 5 jobs running. Wait for one to finish or cancel one.",
  RATE_LIMITED: "Too many requests. Try again in {wait}.",
  PROVIDER_UNAVAILABLE: "The generation service is unavailable right now. Try again in {wait}; nothing was charged.",
  OVERLOADED: "The service is busy. Try again in {wait}.",
  STORE_UNAVAILABLE: "The service cannot save right now. Try again in {wait}.",
  INVALID_TOKEN: "That link is not valid (maybe already used). Request a new one.",
  TOKEN_EXPIRED: "That link has expired. Request a new one.",
  INVALID_CODE: "Wrong code. Check it and try again.",
  CODE_EXPIRED: "That code has expired. Request a new one.",
  CODE_LOCKED: "Too many wrong codes. Request a new one.",
  SESSION_REVOKED: "Your session has ended. Please log in again.",
  REFRESH_TOKEN_REUSED: "Your session was ended for safety. Please log in again.",
  UNAUTHENTICATED: "Please log in again.",
  INVALID_STATE: "That job has already finished.",
  MODULE_ALREADY_ACTIVE: "This workspace already has a module.",
  SUBDOMAIN_TAKEN: "That subdomain is taken. Pick another one.",
  FORBIDDEN: "Only owners and admins can do that.",
  NOT_FOUND: "Not found.",
  VALIDATION_FAILED: "Please check: {fields}.",
  INTERNAL: "Something went wrong on our side (request {request}).",
};

class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || "HTTP_" + status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

function seconds(n) {
  return n === 1 ? "1 second" : `${n} seconds`;
}

/** A sentence a person can act on, for any error the API returns. */
function humanMessage(error) {
  if (!(error instanceof ApiError)) return "Cannot reach the service. Check your connection.";
  const template = MESSAGES[error.code];
  if (!template) return error.message;
  const fields = (error.problem.errors || []).map((e) => `${e.field} (${e.message})`).join(", ");
  return template
    .replace("{wait}", seconds(error.retryAfter || 1))
    .replace("{fields}", fields || error.message)
    .replace("{request}", error.problem.request_id || "?");
}

function notify(text, ok = false) {
  const box = $("notice");
  box.textContent = text;
  box.classList.toggle("ok", ok);
  box.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { box.hidden = true; }, ok ? 3000 : 8000);
}

function fail(error) {
  notify(humanMessage(error));
  if (error instanceof ApiError && error.status === 401) signOut();
}

// ---------------------------------------------------------------- API calls

let refreshing = null;  // one refresh at a time, shared by every waiting call

async function send(method, path, body, headers) {
  const init = { method, headers: { ...headers } };
  const token = store.getItem("access_token");
  if (token) init.headers.Authorization = "Bearer " + token;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

async function refreshTokens() {
  const refreshToken = store.getItem("refresh_token");
  if (!refreshToken) return false;
  const response = await fetch("/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: refreshToken }),
  });
  if (!response.ok) return false;
  keepTokens(await response.json());
  return true;
}

/** Calls the API; a 401 triggers one refresh-token rotation and one retry. */
async function api(method, path, body, headers = {}) {
  let response = await send(method, path, body, headers);
  if (response.status === 401 && store.getItem("refresh_token")) {
    refreshing = refreshing || refreshTokens().finally(() => { refreshing = null; });
    if (await refreshing) response = await send(method, path, body, headers);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new ApiError(response.status, data || {}, Number(response.headers.get("Retry-After")) || 0);
  }
  return data;
}

function keepTokens(pair) {
  store.setItem("access_token", pair.access_token);
  store.setItem("refresh_token", pair.refresh_token);
  if (pair.user) store.setItem("user", JSON.stringify(pair.user));
}

// ---------------------------------------------------------------- helpers

function element(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function when(text) {
  return text ? new Date(text).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" }) : "";
}

/** Runs `action` with `button` disabled, so a double click sends once. */
async function busy(button, action) {
  if (button.disabled) return;
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    fail(error);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- login

function onSubmit(formId, buttonId, action) {
  $(formId).addEventListener("submit", (event) => {
    event.preventDefault();
    busy($(buttonId), action);
  });
}

onSubmit("email-form", "email-send", async () => {
  const sent = await api("POST", "/v1/auth/magic-link", { email: $("email").value });
  $("link-form").hidden = false;
  if (sent.debug_token) {
    $("link-token").value = sent.debug_token;
    $("link-hint").textContent = "Dev mode: the link's token is filled in below. One click to finish.";
  } else {
    $("link-hint").textContent = "Check your inbox and paste the token from the link.";
  }
});

onSubmit("link-form", "link-verify", async () => {
  keepTokens(await api("POST", "/v1/auth/magic-link/verify", { token: $("link-token").value.trim() }));
  await signIn();
});

onSubmit("phone-form", "phone-send", async () => {
  const sent = await api("POST", "/v1/auth/code", { phone: $("phone").value.trim() });
  $("code-form").hidden = false;
  $("code-hint").textContent = sent.debug_code
    ? "Dev mode: the code is filled in below."
    : "We sent you a 6-digit code.";
  if (sent.debug_code) $("code").value = sent.debug_code;
});

onSubmit("code-form", "code-verify", async () => {
  keepTokens(await api("POST", "/v1/auth/code/verify", { phone: $("phone").value.trim(), code: $("code").value.trim() }));
  await signIn();
});

$("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/v1/auth/logout");
  } catch (error) {
    // The session is gone either way; nothing to tell.
  }
  signOut();
});

function signOut() {
  store.clear();
  clearTimeout(pollTimer);
  $("app").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  $("link-form").hidden = true;
  $("code-form").hidden = true;
}

async function signIn() {
  const me = await api("GET", "/v1/auth/me");
  $("who-name").textContent = me.user.email || me.user.phone;
  $("who").hidden = false;
  $("login").hidden = true;
  $("app").hidden = false;
  renderTenants(me.tenants || []);
  await Promise.all([loadBalance(), loadLedger(true), loadModels(), loadGenerations()]);
}

// ---------------------------------------------------------------- credits

let ledgerCursor = null;

async function loadBalance() {
  const balance = await api("GET", "/v1/me/balance");
  $("available").textContent = balance.available;
  $("reserved").textContent = balance.reserved;
}

async function loadLedger(fromStart) {
  if (fromStart) ledgerCursor = null;
  const query = "?limit=10" + (ledgerCursor ? "&cursor=" + encodeURIComponent(ledgerCursor) : "");
  const page = await api("GET", "/v1/me/ledger" + query);
  const rows = $("ledger-rows");
  if (fromStart) rows.replaceChildren();
  for (const entry of page.data) {
    const sign = ["grant", "topup", "release"].includes(entry.type) ? "+" : "−";
    rows.append(element("tr", { dataset: { type: entry.type } },
      element("td", { textContent: when(entry.created_at) }),
      element("td", { textContent: entry.type }),
      element("td", { className: "num", textContent: sign + entry.amount }),
      element("td", { className: "num", textContent: entry.available_after }),
      element("td", { className: "ref", textContent: entry.reference || "", title: entry.reference || "" })));
  }
  ledgerCursor = page.next_cursor;
  $("ledger-more").hidden = !ledgerCursor;
  $("ledger-empty").hidden = rows.children.length > 0;
}

$("ledger-more").addEventListener("click", () => busy($("ledger-more"), () => loadLedger(false)));

async function refreshCredits() {
  await Promise.all([loadBalance(), loadLedger(true)]);
}

// ---------------------------------------------------------------- generations

let models = [];
let pollTimer = null;

async function loadModels() {
  models = (await api("GET", "/v1/models")).data;
  const select = $("model");
  select.replaceChildren(...models.map((m) => element("option", { value: m.id, textContent: `${m.id} (${m.type})` })));
  showModel();
}

/** The inputs of the chosen model's params, from the bounds the API gives. */
function showModel() {
  const model = models.find((m) => m.id === $("model").value);
  const box = $("params");
  box.replaceChildren();
  if (!model) return;
  $("model-price").textContent = `Costs ${model.price} credits, reserved when you start and charged only if it completes.`;
  for (const [name, bounds] of Object.entries(model.params || {})) {
    const input = element("input", { id: "param-" + name, type: "number", step: 1, dataset: { param: name } });
    if (bounds.min !== undefined) input.min = bounds.min;
    if (bounds.max !== undefined) input.max = bounds.max;
    if (bounds.default !== undefined) input.value = bounds.default;
    const range = bounds.min !== undefined ? ` (${bounds.min}–${bounds.max})` : "";
    box.append(element("label", { htmlFor: input.id, textContent: name.replace(/_/g, " ") + range }), input);
  }
}

$("model").addEventListener("change", showModel);

$("generate-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("generate"), async () => {
    const params = {};
    for (const input of $("params").querySelectorAll("input[data-param]")) {
      if (input.value !== "") params[input.dataset.param] = Number(input.value);
    }
    // A fresh key per click: a retry of this same click replays, a new click is a new job.
    const key = crypto.randomUUID();
    const job = await api("POST", "/v1/generations",
      { model_id: $("model").value, prompt: $("prompt").value, params },
      { "Idempotency-Key": key });
    $("available").textContent = job.available;
    $("reserved").textContent = job.reserved;
    notify(`Started: ${job.price} credits reserved.`, true);
    await Promise.all([loadGenerations(), loadLedger(true)]);
  });
});

async function loadGenerations() {
  clearTimeout(pollTimer);
  const page = await api("GET", "/v1/generations?limit=20");
  const list = $("generations");
  list.replaceChildren(...page.data.map(renderGeneration));
  $("generations-empty").hidden = page.data.length > 0;
  const active = page.data.some((g) => g.status === "pending" || g.status === "processing");
  if (active) pollTimer = setTimeout(() => loadGenerations().then(refreshCredits).catch(fail), 2000);
}

function renderGeneration(job) {
  const label = element("span", { className: "status " + job.status, textContent: job.status });
  const what = element("div", { className: "what" },
    element("span", { className: "prompt", textContent: job.prompt || job.model_id, title: job.prompt || "" }),
    element("span", { className: "hint", textContent: `${job.model_id} · ${job.price} credits · ${when(job.created_at)}` }));
  if (job.result_url) {
    what.append(element("a", { href: job.result_url, textContent: " result", rel: "noopener noreferrer", target: "_blank" }));
  }
  if (job.error) what.append(element("span", { className: "hint", textContent: " — " + job.error }));
  const item = element("li", { dataset: { id: job.id, status: job.status } }, what, label);
  if (job.status === "pending" || job.status === "processing") {
    const cancel = element("button", { type: "button", className: "secondary", textContent: "Cancel" });
    cancel.addEventListener("click", () => busy(cancel, async () => {
      await api("POST", `/v1/generations/${job.id}/cancel`);
      notify("Cancelled; the credits are back.", true);
      await Promise.all([loadGenerations(), refreshCredits()]);
    }));
    item.append(cancel);
  }
  return item;
}

// ---------------------------------------------------------------- tenants

let selectedTenant = null;

function renderTenants(tenants) {
  $("tenants").replaceChildren(...tenants.map((t) => {
    const open = element("button", { type: "button", className: "link", textContent: t.name });
    open.addEventListener("click", () => showTenant(t.id).catch(fail));
    return element("li", { dataset: { id: t.id } }, open, element("span", { className: "role", textContent: t.role }));
  }));
}

async function reloadTenants() {
  renderTenants((await api("GET", "/v1/auth/me")).tenants || []);
}

async function showTenant(id) {
  const tenant = await api("GET", `/v1/tenants/${id}`);
  selectedTenant = tenant;
  const form = $("activate-form");
  form.hidden = false;
  if (tenant.active_module) {
    const sub = tenant.subscription || {};
    $("activate-title").textContent =
      `${tenant.name}: ${tenant.active_module} on ${tenant.subdomain} — ${sub.status || ""}` +
      (sub.trial_ends_at ? `, trial ends ${when(sub.trial_ends_at)}` : "");
    $("activate").hidden = true;
  } else {
    $("activate-title").textContent = `${tenant.name}: activate a module`;
    $("activate").hidden = false;
  }
}

onSubmit("tenant-form", "tenant-create", async () => {
  const tenant = await api("POST", "/v1/tenants", { name: $("tenant-name").value.trim() });
  $("tenant-name").value = "";
  await reloadTenants();
  await showTenant(tenant.id);
});

$("subdomain-check").addEventListener("click", () => busy($("subdomain-check"), async () => {
  const name = $("subdomain").value.trim();
  const answer = await api("GET", `/v1/subdomains/${encodeURIComponent(name)}`);
  $("subdomain-result").textContent = answer.available ? `${name} is available.` : `${name} is taken.`;
}));

onSubmit("activate-form", "activate", async () => {
  if (!selectedTenant) return;
  const result = await api("POST", `/v1/tenants/${selectedTenant.id}/modules/activate`,
    { module: $("module").value, subdomain: $("subdomain").value.trim() });
  $("subdomain-result").textContent = "";
  notify(`Activated ${result.active_module} on ${result.subdomain}; trial until ${when(result.subscription.trial_ends_at)}.`, true);
  await showTenant(selectedTenant.id);
});

// ---------------------------------------------------------------- start

if (store.getItem("access_token")) signIn().catch(fail);
else signOut();
