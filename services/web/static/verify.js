// The verification page. A file is hashed here (Web Crypto SHA-256) and only its hash is sent; the file itself
// leaves the device only when the citizen asks for its signature to be validated. Results are built with DOM
// nodes and textContent: nothing the server answers is ever parsed as HTML.
(() => {
  "use strict";

  const I18N = JSON.parse(document.getElementById("segell-i18n").textContent);
  const LANGUAGE_COOKIE = "segell_lang";
  let language = document.documentElement.lang;
  // What is on screen, so that it can be drawn again in another language.
  let shown = null;
  // The file last checked, kept only in this page, for an explicit signature validation.
  let checkedFile = null;
  let signature = null;

  const $ = (id) => document.getElementById(id);
  const result = $("result");

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

  // --- verification codes (as services/notary/codes.py) ------------------------------------------------------

  const SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  // Codes issued before carry a check of the 80 bits modulo 37, with 5 symbols of its own; they are still valid.
  const LEGACY_CHECK_SYMBOLS = SYMBOLS + "*~$=U";
  // Multiplying by α in GF(2^5) (x^5 + x^2 + 1): the check makes the sum of α^(n-i) · symbol_i zero.
  const TIMES_ALPHA = Array.from({ length: 32 }, (_, value) => ((value << 1) & 32 ? (value << 1) ^ 0b100101 : value << 1));

  function checkSymbol(data) {
    let total = 0;
    for (const symbol of data) total = TIMES_ALPHA[total] ^ SYMBOLS.indexOf(symbol);
    return SYMBOLS[TIMES_ALPHA[total]];
  }

  function legacyCheckSymbol(data) {
    let value = 0;
    for (const symbol of data) value = (value * 32 + SYMBOLS.indexOf(symbol)) % 37;
    return LEGACY_CHECK_SYMBOLS[value];
  }

  function parseCode(text) {
    const code = text.toUpperCase().replace(/[IL]/g, "1").replace(/O/g, "0").replace(/[\s-]/g, "");
    if (code.length !== 17) return { problem: "code_wrong_length", params: { count: code.length } };
    const data = code.slice(0, 16);
    const check = code[16];
    const wrong = new Set([...data].filter((symbol) => !SYMBOLS.includes(symbol)));
    if (!LEGACY_CHECK_SYMBOLS.includes(check)) wrong.add(check);
    if (wrong.size) {
      const symbols = [...wrong].sort().map((symbol) => `“${symbol}”`).join(", ");
      return { problem: "code_wrong_symbols", params: { symbols } };
    }
    // A code valid only under the legacy check that no document holds is told mistyped by the server.
    if (checkSymbol(data) !== check && legacyCheckSymbol(data) !== check) return { problem: "code_mistyped", params: {} };
    return { code };
  }
  window.segellCheckSymbol = checkSymbol;

  const formatCode = (code) => `${code.slice(0, 4)}-${code.slice(4, 8)}-${code.slice(8, 12)}-${code.slice(12, 16)}-${code[16]}`;

  // --- hashing -------------------------------------------------------------------------------------------------

  const { sha256Hex } = window.segellHashes;

  // --- talking to the API --------------------------------------------------------------------------------------

  async function getJson(url, options = {}) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, ...options });
    } catch {
      return { ok: false, status: 0, body: null };
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    return { ok: response.ok, status: response.status, body };
  }

  const errorMessage = (answer) => answer.body?.error?.message ?? `HTTP ${answer.status}`;

  // --- rendering -----------------------------------------------------------------------------------------------

  const dateText = (iso) =>
    new Intl.DateTimeFormat(language, { dateStyle: "long", timeStyle: "long" }).format(new Date(iso));

  function formatDate(iso) {
    return el("time", { datetime: iso }, dateText(iso));
  }

  function facts(rows) {
    const list = el("dl", { class: "facts" });
    for (const [key, value] of rows) {
      if (value === null || value === undefined || value === "") continue;
      list.append(el("dt", {}, t(key)), el("dd", {}, value));
    }
    return list;
  }

  function verdict(kind, title, ...paragraphs) {
    return el("div", { class: `verdict verdict-${kind}`, id: "verdict" }, el("h3", { id: "verdict-title" }, title),
      ...paragraphs.filter(Boolean).map((text) => el("p", {}, text)));
  }

  function formatSize(bytes) {
    const unit = bytes < 1000 ? "byte" : bytes < 1000000 ? "kilobyte" : "megabyte";
    const value = unit === "byte" ? bytes : unit === "kilobyte" ? bytes / 1000 : bytes / 1000000;
    return new Intl.NumberFormat(language, { style: "unit", unit, maximumFractionDigits: 1 }).format(value);
  }

  function render(state) {
    shown = state;
    result.dataset.state = state.kind === "verification" ? state.answer.status : state.kind;
    result.replaceChildren(...draw(state));
    recheckWhilePending(state);
  }

  // A document is anchored seconds after it is issued: while it is pending, ask again (for about a minute), so
  // that a citizen who scanned the code at once sees the answer change without reloading.
  const RECHECK_MS = 2000;
  const RECHECKS = 30;
  let recheckTimer = null;

  function recheckWhilePending(state) {
    clearTimeout(recheckTimer);
    if (state.kind !== "verification" || state.answer.status !== "pending") return;
    const attempt = (state.attempt ?? 0) + 1;
    if (attempt > RECHECKS) return;
    recheckTimer = setTimeout(async () => {
      const query = state.code ? `code=${encodeURIComponent(state.code)}` : `hash=${state.hash}`;
      const answer = await getJson(`/v1/verify?${query}`);
      if (shown === state && answer.ok) render({ ...state, answer: answer.body, attempt });
    }, RECHECK_MS);
  }

  function draw(state) {
    if (state.kind === "progress") return [verdict("progress", t(state.key))];
    if (state.kind === "code-problem") {
      return [verdict("error", t(state.problem), t(`${state.problem}_text`, state.params))];
    }
    if (state.kind === "error") {
      const text = state.status === 0 ? t("network_failed_text") : t("check_failed_text", { message: state.message });
      return [verdict("error", t("check_failed"), text)];
    }
    return drawVerification(state);
  }

  function drawVerification({ answer, source, code }) {
    const nodes = [];
    // Several administrations may have registered the same file: the heading names one whose status it states.
    const first = answer.matches.find((match) => match.status === answer.status) ?? answer.matches[0];
    const issuer = first ? first.administration.name : "";
    if (answer.status === "unknown") {
      nodes.push(verdict("unknown", t("status_unknown"), t(source === "file" ? "status_unknown_file" : "status_unknown_code")));
    } else {
      const revocation = answer.status === "revoked" ? first.revocation : null;
      const card = verdict(answer.status, t(`status_${answer.status}`), t(`status_${answer.status}_text`, { administration: issuer }),
        revocation ? `${t("field_reason")}: ${revocation.reason}` : null);
      // What a citizen who scanned a code came for, on the first screen: what the document is, and the document.
      const what = [kindLabel(first), first.title].filter(Boolean).join(" — ");
      if (code && what) card.append(el("p", { class: "verdict-document" }, `${t("field_document")}: ${what}`));
      const copy = code ? first.public_copy : null;
      if (copy) {
        // The file name comes from the server's Content-Disposition, made safe there.
        const link = el("a", { href: copy.url, download: "", id: "document-link", class: "document-link" }, t("copy_download"));
        card.append(el("div", { class: "document-copy" }, link,
          el("p", { class: "help" }, `${copy.file_name} · ${formatSize(copy.size)}. ${t("copy_help")}`)));
      }
      // A mandatory publication: the administration's other publications, and its other versions, on the portal.
      if (first.kind === "transparency-publication") {
        const portal = el("a", { href: `/transparency/${encodeURIComponent(first.administration.code)}`, id: "portal-link" },
          t("portal_link", { administration: issuer }));
        card.append(el("p", { class: "portal-link" }, portal));
      }
      nodes.push(card);
    }
    for (const match of answer.matches) {
      const document_ = [kindLabel(match), match.title].filter(Boolean).join(" — ");
      const rows = [
        ["field_issuer", `${match.administration.name} (${match.administration.code})`],
        ["field_document", document_],
        ["field_anchored_at", match.anchored_at ? formatDate(match.anchored_at) : null],
        ["field_block", match.block_number === null ? null : String(match.block_number)],
        ["field_transaction", match.transaction_hash ? el("code", {}, match.transaction_hash) : null],
        ["field_chain", match.chain_id === null ? null : el("span", {}, String(match.chain_id), " · ", el("code", {}, match.contract ?? ""))],
      ];
      if (match.revocation) {
        rows.push(["field_revoked_at", formatDate(match.revocation.revoked_at)]);
        rows.push(["field_reason", match.revocation.reason]);
      }
      nodes.push(el("div", { class: "match", "data-status": match.status }, facts(rows), drawSigners(match.signers),
        drawSources(match.derived_from)));
    }
    if (answer.document_hash) nodes.push(facts([["field_fingerprint", el("code", {}, answer.document_hash)]]));
    if (answer.status === "authentic" || answer.status === "revoked") {
      if (code) {
        const link = el("a", {
          href: `/v1/verify/${formatCode(code)}/bundle`, // as in the address bar: see checkCode
          download: "", // named by the server's Content-Disposition: CODE.segell.json, made safe
          id: "bundle-link",
        }, t("bundle_download"));
        nodes.push(el("div", { class: "bundle" }, link, el("p", { class: "help" }, t("bundle_help"))));
      } else {
        nodes.push(el("p", { class: "help bundle" }, t("bundle_by_code_only")));
      }
    }
    // Signers Segell recorded when it signed say who signed; the file's own validation stays a step away, above.
    if (source === "file" || !answer.matches.some((match) => match.signers?.length)) nodes.push(drawSignature(source));
    return nodes;
  }

  // Who signed a signed output, as Segell checked when it signed it (public verification records it then).
  function drawSigners(signers) {
    if (!signers || signers.length === 0) return null;
    const list = el("ul", { class: "signers-list" });
    for (const signer of signers) {
      list.append(el("li", { class: "signer" }, facts([
        ["signature_signed_by", signer.name],
        ["signature_organisation", signer.organisation],
        ["signature_kind", signer.kind ? t(`signature_kind_${signer.kind}`) : null],
        ["signature_time", formatDate(signer.signed_at)],
        ["signature_issuer", signer.issuer],
      ])));
    }
    return el("section", { class: "signers", id: "signers" },
      el("h4", {}, t("signers_heading")), el("p", { class: "help" }, t("signers_help")), list);
  }

  // How people read a kind of document, in this language: the labels the server answers with it, else those the
  // page knows; a kind the issuer named itself, as the issuer wrote it.
  function kindLabel({ kind, kind_labels: labels }) {
    if (!kind) return null;
    return labels?.[language] ?? I18N[language][`kind_${kind}`] ?? kind;
  }

  // The documents this one was made from (a signed PDF: its original), each with a link to check it on its own
  // page, whose own sources lead further along the chain.
  function drawSources(sources) {
    if (!sources || sources.length === 0) return null;
    const list = el("ul", { class: "derived-list" });
    for (const source of sources) {
      const shownCode = source.verification_code;
      const what = [kindLabel(source), source.title].filter(Boolean).join(" — ");
      list.append(el("li", { "data-code": shownCode },
        what ? el("span", { class: "derived-what" }, what) : null,
        what ? " · " : null,
        `${source.administration.name} (${source.administration.code})`,
        " · ",
        el("code", {}, shownCode),
        " ",
        el("a", { href: `/verify/${shownCode}`, class: "derived-link" }, t("derived_verify"))));
    }
    return el("section", { class: "derived" },
      el("h4", {}, t("derived_heading")), el("p", { class: "help" }, t("derived_help")), list);
  }

  function drawSignature(source) {
    const section = el("section", { class: "signature", id: "signature", "aria-labelledby": "signature-title" },
      el("h3", { id: "signature-title" }, t("signature_heading")));
    // Focusable from script: after a validation the button is gone, and focus moves to what it answered.
    const status = el("p", { class: "signature-status", id: "signature-status", tabindex: "-1" });
    section.append(status);
    if (source !== "file" || !checkedFile) {
      status.textContent = t("signature_none_checked");
      section.append(el("p", { class: "help" }, t("signature_choose_file")));
      return section;
    }
    if (signature === null) {
      status.textContent = t("signature_none_checked");
      const detached = el("input", { type: "file", id: "detached-signature", "aria-describedby": "detached-help" });
      const button = el("button", { type: "button", id: "validate-signature", class: "secondary" }, t("signature_validate"));
      button.addEventListener("click", () => validateSignature(detached.files[0] ?? null));
      section.append(
        el("p", { class: "help" }, t("signature_offer")),
        el("label", { for: "detached-signature" }, t("signature_detached_label")),
        detached,
        el("p", { class: "help", id: "detached-help" }, t("signature_detached_help")),
        button,
      );
      return section;
    }
    if (signature.kind === "progress") {
      status.textContent = t("signature_checking");
    } else if (signature.kind === "unavailable") {
      status.textContent = t("signature_unavailable");
    } else if (signature.kind === "error") {
      status.textContent = t("signature_failed", { message: signature.message });
    } else if (!signature.answer.signed) {
      status.textContent = t("signature_not_signed");
    } else {
      const answer = signature.answer;
      const key = { TOTAL_PASSED: "valid", TOTAL_FAILED: "invalid" }[answer.indication] ?? "indeterminate";
      status.textContent = t(`signature_${key}`);
      status.classList.add(`signature-${key}`);
      section.dataset.indication = answer.indication ?? "";
      const several = answer.signatures.length > 1;
      for (const item of answer.signatures) section.append(drawOneSignature(item, several));
    }
    return section;
  }

  function registrationAuthority(authority) {
    return authority ? `${authority.name} (${authority.code})` : null;
  }

  function drawOneSignature(item, several) {
    const signer = item.signer ?? {};
    const itemKey = { TOTAL_PASSED: "valid", TOTAL_FAILED: "invalid" }[item.indication] ?? "indeterminate";
    const rows = [
      ["signature_signed_by", signer.name],
      ["signature_organisation", signer.organisation],
      ["signature_kind", signer.kind ? t(`signature_kind_${signer.kind}`) : null],
      ["signature_registration_authority", registrationAuthority(signer.registration_authority)],
      ["signature_time", item.signing_time ? formatDate(item.signing_time) : null],
      ["signature_format", item.format],
      ["signature_issuer", signer.issuer],
      ["signature_serial", signer.certificate_serial ? el("code", {}, signer.certificate_serial) : null],
      ["signature_indication", indicationText(item)],
    ];
    const existence = item.proof_of_existence;
    if (existence) {
      // The date is a <time> element inside the translated sentence.
      const [before, after] = t("signature_existence_text", { date: "\u0000", block: existence.block_number }).split("\u0000");
      const when = el("span", {}, before, formatDate(existence.anchored_at), after);
      rows.push(["signature_existence", when]);
    }
    // With one signature, the section's own status line already says it.
    const status = several ? el("p", { class: `signature-status signature-${itemKey}` }, t(`signature_${itemKey}`)) : null;
    return el("div", { class: "signature-item", "data-indication": item.indication ?? "", "data-reason": item.reason ?? "" },
      status, el("p", { class: "signature-reason" }, reasonText(item)), facts(rows));
  }

  // ETSI EN 319 102-1's result in words, with its codes: "Failed: the signed content was changed (TOTAL_FAILED /
  // HASH_FAILURE)".
  function indicationText(item) {
    const words = [t(`signature_indication_${item.indication}`)];
    if (item.sub_indication) words.push(t(`signature_sub_${item.sub_indication}`));
    const codes = [item.indication, item.sub_indication].filter(Boolean).join(" / ");
    return el("span", {}, `${words.join(": ")} `, el("code", {}, `(${codes})`));
  }

  // Why the signature got its result, in this language: the server's reason code and the facts it names. A reason
  // this page does not know is said by its ETSI sub-indication.
  function reasonText(item) {
    const details = item.reason_details ?? {};
    const key = `signature_reason_${item.reason}`;
    if (!item.reason || !(key in I18N[language])) {
      return item.sub_indication ? t(`signature_sub_${item.sub_indication}`) : t(`signature_indication_${item.indication}`);
    }
    const params = { certificate: details.certificate ?? "", issuer: details.issuer ?? "", revocation: "" };
    for (const name of ["signed_at", "revoked_at", "proven_at", "expired_at", "valid_from"]) {
      if (details[name]) params[name] = dateText(details[name]);
    }
    const revocationReason = details.revocation_reason;
    if (revocationReason) {
      const words = I18N[language][`crl_reason_${revocationReason}`] ?? revocationReason;
      params.revocation = ` (${t("signature_revocation_reason", { reason: words })})`;
    }
    return t(key, params);
  }

  // --- actions -------------------------------------------------------------------------------------------------

  async function checkCode(text) {
    const input = $("code");
    const parsed = parseCode(text);
    if (parsed.problem) {
      input.setAttribute("aria-invalid", "true");
      render({ kind: "code-problem", problem: parsed.problem, params: parsed.params });
      return;
    }
    input.removeAttribute("aria-invalid");
    checkedFile = null;
    signature = null;
    render({ kind: "progress", key: "checking" });
    const answer = await getJson(`/v1/verify?code=${encodeURIComponent(parsed.code)}`);
    if (answer.ok) {
      render({ kind: "verification", source: "code", code: parsed.code, answer: answer.body });
      // The code's characters (letters, digits, "-", and the legacy check symbols * ~ $ = U) are all valid in a
      // path as they are, so the address bar shows the very URL printed on the document.
      const path = `/verify/${formatCode(parsed.code)}`;
      if (location.pathname !== path) history.replaceState(null, "", path);
    } else if (answer.body?.error?.code === "invalid_code") {
      render({ kind: "code-problem", problem: "code_mistyped", params: {} });
    } else {
      render({ kind: "error", status: answer.status, message: errorMessage(answer) });
    }
  }

  async function checkFile(file) {
    checkedFile = file;
    signature = null;
    render({ kind: "progress", key: "hashing" });
    let hash;
    try {
      hash = await sha256Hex(await file.arrayBuffer());
    } catch (error) {
      render({ kind: "error", status: -1, message: String(error) });
      return;
    }
    render({ kind: "progress", key: "checking" });
    const answer = await getJson(`/v1/verify?hash=${hash}`);
    if (answer.ok) {
      render({ kind: "verification", source: "file", hash, answer: answer.body });
    } else {
      render({ kind: "error", status: answer.status, message: errorMessage(answer) });
    }
  }

  async function validateSignature(detached) {
    if (!checkedFile || !shown) return;
    signature = { kind: "progress" };
    render(shown);
    const form = new FormData();
    form.append("file", checkedFile, checkedFile.name);
    if (detached) form.append("signature", detached, detached.name);
    const answer = await getJson("/v1/signatures/validate", { method: "POST", body: form });
    if (answer.ok) {
      signature = { kind: "answer", answer: answer.body };
    } else if (answer.status === 404 || answer.status === 405) {
      signature = { kind: "unavailable" };
    } else {
      signature = { kind: "error", message: answer.status === 0 ? t("network_failed_text") : errorMessage(answer) };
    }
    render(shown);
    $("signature-status")?.focus();
  }

  function switchLanguage(next) {
    if (!I18N[next]) return;
    language = next;
    document.documentElement.lang = next;
    document.cookie = `${LANGUAGE_COOKIE}=${next}; path=/; max-age=31536000; samesite=lax`;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-aria-label]")) {
      node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
    }
    for (const link of document.querySelectorAll(".languages a")) {
      if (link.dataset.lang === next) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
    const url = new URL(location.href);
    if (url.searchParams.has("lang")) {
      url.searchParams.delete("lang");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    if (shown) render(shown);
  }

  // --- wiring --------------------------------------------------------------------------------------------------

  $("code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    checkCode($("code").value);
  });
  $("code").addEventListener("input", () => $("code").removeAttribute("aria-invalid"));
  $("file").addEventListener("change", () => {
    const file = $("file").files[0];
    if (file) checkFile(file);
  });

  const dropZone = $("drop-zone");
  // A file dropped anywhere must not make the browser open it in place of the page.
  for (const name of ["dragover", "drop"]) window.addEventListener(name, (event) => event.preventDefault());
  dropZone.addEventListener("dragover", () => dropZone.classList.add("dragging"));
  dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
  dropZone.addEventListener("drop", (event) => {
    dropZone.classList.remove("dragging");
    const file = event.dataTransfer?.files?.[0];
    if (file) checkFile(file);
  });

  for (const link of document.querySelectorAll(".languages a")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      switchLanguage(link.dataset.lang);
    });
  }

  const main = $("main");
  if (main.dataset.autocheck === "true") checkCode(main.dataset.code);
})();
