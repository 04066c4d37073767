// The citizen's page of accesses to their data. The citizen arrives from their administration's login with the
// token in the URL's fragment (`/me/access#token=...`), which never reaches a server: it is kept in this tab's
// session storage, taken out of the address bar, and sent only to this server's API. Everything the API answers is
// drawn with DOM nodes and textContent: nothing is ever parsed as HTML.
(() => {
  "use strict";

  const I18N = JSON.parse(document.getElementById("segell-i18n").textContent);
  const TOKEN_KEY = "segell_citizen_token";
  const language = document.documentElement.lang;
  const $ = (id) => document.getElementById(id);

  function t(key, params = {}) {
    const text = I18N[language][key] ?? I18N.ca[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
  }

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value !== null && value !== undefined) node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function takeToken() {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    const arriving = fragment.get("token");
    if (arriving) {
      sessionStorage.setItem(TOKEN_KEY, arriving);
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  let token = takeToken();

  function setStatus(state, text) {
    const status = $("status");
    status.dataset.state = state;
    status.textContent = text;
    status.className = `status status-${state}`;
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path, options = {}) {
    const headers = { Authorization: `Bearer ${token}`, ...(options.headers || {}) };
    const response = await fetch(path, { ...options, headers, credentials: "omit", cache: "no-store" });
    if (!response.ok) {
      let code = "error";
      let message = `HTTP ${response.status}.`;
      try {
        const body = await response.json();
        code = body.error.code;
        message = body.error.message;
      } catch (_) {
        // Not the API's JSON error: the status says enough.
      }
      throw new ApiError(response.status, code, message);
    }
    return response;
  }

  function explain(error, key) {
    if (error instanceof ApiError) {
      if (error.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        $("signed-in").hidden = true;
        return ["signed_out", t("session_ended")];
      }
      if (error.code === "citizen_not_identified") return ["not_identified", t("not_identified")];
      return ["error", t(key, { message: error.message })];
    }
    return ["error", t("network_failed")];
  }

  const dateFormat = new Intl.DateTimeFormat(language, { dateStyle: "long", timeStyle: "short" });
  const when = (text) => el("time", { datetime: text }, dateFormat.format(new Date(text)));

  function drawAccesses(accesses) {
    const body = $("accesses").tBodies[0];
    body.replaceChildren(
      ...accesses.map((access) => {
        const what = el("td", { "data-label": t("column_what") }, access.data);
        what.append(el("br"), el("span", { class: "muted" }, t("from_provider", { provider: access.provider.name })));
        const procedure = el("td", { "data-label": t("column_procedure") }, access.procedure_code);
        if (access.case_id) procedure.append(el("br"), el("span", { class: "muted" }, t("case", { case: access.case_id })));
        const basis = el("td", { class: "basis", "data-label": t("column_legal_basis") });
        if (access.legal_basis) basis.append(el("span", { class: "mono" }, access.legal_basis));
        if (access.consent_reference) {
          if (access.legal_basis) basis.append(el("br"));
          basis.append(el("span", {}, t("consent_given")));
        }
        return el(
          "tr",
          { "data-access": access.id },
          el("td", { "data-label": t("column_when") }, when(access.at)),
          el("td", { "data-label": t("column_who") }, access.consumer.name, el("br"), el("span", { class: "muted mono" }, access.consumer.code)),
          what,
          procedure,
          basis,
        );
      }),
    );
    $("accesses-wrap").hidden = accesses.length === 0;
    $("accesses-empty").hidden = accesses.length !== 0;
  }

  function drawRequests(requests) {
    const list = $("requests");
    list.replaceChildren(
      ...requests.map((request) => {
        const item = el("li", { class: "request", "data-request": request.id, "data-status": request.status });
        const headingId = `request-${request.id}`;
        item.append(
          el(
            "p",
            { id: headingId },
            t("request_text", {
              consumer: request.consumer.name,
              title: request.document_title,
              holder: request.holder.name,
              procedure: request.procedure_code,
            }),
          ),
        );
        if (request.legal_basis) {
          item.append(el("p", { class: "muted" }, t("request_legal_basis", { legal_basis: request.legal_basis })));
        }
        item.append(el("p", { class: `request-status request-${request.status}` }, t(`status_${request.status}`)));
        const actions = el("p", { class: "actions" });
        const preview = el("button", { type: "button", class: "secondary preview", "aria-describedby": headingId }, t("preview"));
        preview.addEventListener("click", () => showPreview(request));
        actions.append(preview);
        if (request.status === "consent_pending") {
          const consent = el("button", { type: "button", class: "consent", "aria-describedby": headingId }, t("consent"));
          const refuse = el("button", { type: "button", class: "secondary refuse", "aria-describedby": headingId }, t("refuse"));
          consent.addEventListener("click", () => decide(request, "consent"));
          refuse.addEventListener("click", () => decide(request, "refuse"));
          actions.append(consent, refuse);
        }
        item.append(actions);
        return item;
      }),
    );
    $("requests-empty").hidden = requests.length !== 0;
  }

  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name, hidden: "" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  function fileName(response, fallback) {
    const header = response.headers.get("Content-Disposition") || "";
    const match = header.match(/filename\*=UTF-8''([^;]+)/) || header.match(/filename="([^"]+)"/);
    return match ? decodeURIComponent(match[1]) : fallback;
  }

  async function showPreview(request) {
    try {
      const response = await api(`/v1/me/once-only/${encodeURIComponent(request.id)}/preview`);
      save(await response.blob(), fileName(response, "document"));
    } catch (error) {
      const [state, text] = explain(error, "preview_failed");
      setStatus(state, text);
    }
  }

  async function decide(request, decision) {
    try {
      await api(`/v1/me/once-only/${encodeURIComponent(request.id)}/decision`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ decision }),
      });
      await load();
      setStatus("decided", t(`decided_${decision}`, { consumer: request.consumer.name }));
    } catch (error) {
      const [state, text] = explain(error, "decision_failed");
      setStatus(state, text);
    }
  }

  async function exportAs(format) {
    try {
      const response = await api(`/v1/me/access/export?format=${format}`);
      save(await response.blob(), fileName(response, `accesses.${format}`));
    } catch (error) {
      const [state, text] = explain(error, "export_failed");
      setStatus(state, text);
    }
  }

  async function load() {
    try {
      const log = await (await api("/v1/me/access")).json();
      const requests = await (await api("/v1/me/once-only")).json();
      $("who").textContent = t("logged_in_with", { administration: log.administration.name });
      drawRequests(requests.requests);
      drawAccesses(log.accesses);
      $("signed-in").hidden = false;
      setStatus("loaded", t(log.accesses.length === 1 ? "loaded_one" : "loaded", { count: log.accesses.length }));
    } catch (error) {
      const [state, text] = explain(error, "load_failed");
      setStatus(state, text);
    }
  }

  $("export-csv").addEventListener("click", () => exportAs("csv"));
  $("export-json").addEventListener("click", () => exportAs("json"));
  $("log-out").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    $("signed-in").hidden = true;
    setStatus("signed_out", t("logged_out"));
  });

  if (token) {
    load();
  } else {
    setStatus("signed_out", t("signed_out"));
  }
})();
