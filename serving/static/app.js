// eventclf analyst page: paste an article, POST /classify_document, show labelled sentences.
// Plain browser JavaScript, no build step and no network access beyond this service.
// Response data is only ever written with textContent / attributes, never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "eventclf.apiKey";
  const FALLBACK_COLOR = "#64748b";
  const VISIBLE_CHIPS = 3; // more labels on one sentence collapse behind a "+N" button

  // An invented example (no real places or events), in five languages and four scripts.
  const EXAMPLE = [
    "Fighting flares near the Kavari river crossing",
    "",
    "Government troops and rebel fighters clashed overnight near the Kavari river crossing, local officials " +
      "said on Tuesday. Two drones struck a fuel depot on the edge of the town shortly before dawn. " +
      "The regional council will meet again on Friday.",
    "",
    "فرّ مئات السكان من القرى المجاورة نحو الجنوب بعد سقوط قذائف هاون على السوق المركزي. " +
      "وقال مسؤول محلي إن المستشفى الوحيد في المنطقة يعمل بأقل من نصف طاقته.",
    "",
    "Des centaines de personnes ont manifesté samedi devant la mairie pour réclamer la libération des détenus.",
    "",
    "В воскресенье у ворот районной больницы взорвалось самодельное взрывное устройство, ранены трое медиков.",
    "",
    "当局表示，停火谈判将于下周在邻国首都恢复。",
  ].join("\n");

  const $ = (id) => document.getElementById(id);
  const els = {
    form: $("classify-form"), text: $("article"), lang: $("lang"), apiKey: $("api-key"),
    settings: $("settings"), classify: $("classify-btn"), example: $("example-btn"), clear: $("clear-btn"),
    charCount: $("char-count"), modelInfo: $("model-info"),
    errorBox: $("error-box"), errorTitle: $("error-title"), errorMessage: $("error-message"),
    errorHint: $("error-hint"), results: $("results"), stats: $("results-stats"), copy: $("copy-btn"),
    copyStatus: $("copy-status"), summary: $("summary"), summaryEmpty: $("summary-empty"),
    article: $("article-view"), tip: $("score-tip"),
  };

  const state = {
    info: null,        // the /info answer, once fetched
    labels: new Map(), // label id -> {name, color}
    lastJson: "",      // raw text of the last successful response, for "Copy JSON"
    busy: false,
    tipTarget: null,
  };

  // ---------- small helpers ----------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function safeColor(value) {
    return typeof value === "string" && /^#[0-9a-f]{3,8}$/i.test(value) ? value : FALLBACK_COLOR;
  }

  function humanise(id) {
    const words = String(id).replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function labelName(id) { return (state.labels.get(id) || {}).name || humanise(id); }
  function labelColor(id) { return (state.labels.get(id) || {}).color || FALLBACK_COLOR; }

  function formatScore(x) { return typeof x === "number" ? x.toFixed(2) : "–"; }

  const RTL_LETTERS = /[\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}]/gu;
  const LETTERS = /\p{L}/gu;

  // "rtl" when most letters belong to a right-to-left script, "ltr" when there are letters, else "auto".
  function direction(text) {
    const letters = (text.match(LETTERS) || []).length;
    if (!letters) return "auto";
    const rtl = (text.match(RTL_LETTERS) || []).length;
    return rtl * 2 >= letters ? "rtl" : "ltr";
  }

  function codePointLength(text) {
    let n = 0;
    for (const _ of text) n++; // eslint-disable-line no-unused-vars
    return n;
  }

  function apiHeaders() {
    const headers = { "Content-Type": "application/json", "Accept": "application/json" };
    const key = els.apiKey.value.trim();
    if (key) headers["X-API-Key"] = key;
    return headers;
  }

  // POST JSON; resolves to {ok, status, body, raw, headers} or throws a NetworkError-like Error.
  async function post(path, payload) {
    let response;
    try {
      response = await fetch(path, { method: "POST", headers: apiHeaders(), body: JSON.stringify(payload),
                                     cache: "no-store" });
    } catch (err) {
      const error = new Error(err && err.message ? err.message : "network error");
      error.network = true;
      throw error;
    }
    const raw = await response.text();
    let body = null;
    try { body = raw ? JSON.parse(raw) : null; } catch { body = null; }
    return { ok: response.ok, status: response.status, body, raw, headers: response.headers };
  }

  // The service is mounted at /ui; its API lives at the root.
  function apiPath(route) {
    const path = window.location.pathname;
    const at = path.indexOf("/ui/");
    const prefix = at >= 0 ? path.slice(0, at) : path.replace(/\/ui$/, "");
    return prefix.replace(/\/$/, "") + route;
  }

  // ---------- model info (label names and colours) ----------

  async function loadInfo() {
    try {
      const res = await post(apiPath("/info"), {});
      if (!res.ok || !res.body) {
        els.modelInfo.textContent = res.status === 401
          ? "API key required: open “API key” below"
          : `Model info unavailable (HTTP ${res.status})`;
        els.modelInfo.classList.add("warn");
        if (res.status === 401) els.settings.open = true;
        return false;
      }
      state.info = res.body;
      state.labels.clear();
      for (const label of Array.isArray(res.body.labels) ? res.body.labels : []) {
        if (label && typeof label.id === "string") {
          state.labels.set(label.id, { name: typeof label.name === "string" && label.name ? label.name : humanise(label.id),
                                       color: safeColor(label.color) });
        }
      }
      const version = res.body.version ? ` · ${res.body.version}` : "";
      els.modelInfo.textContent = `Model ${res.body.model || "?"}${version}`;
      els.modelInfo.classList.remove("warn");
      els.modelInfo.title = [res.body.base_model && `base: ${res.body.base_model}`,
                             res.body.precision && `precision: ${res.body.precision}`,
                             res.body.device && `device: ${res.body.device}`].filter(Boolean).join("\n");
      updateCharCount();
      return true;
    } catch (err) {
      els.modelInfo.textContent = "Service unreachable";
      els.modelInfo.classList.add("warn");
      return false;
    }
  }

  function maxChars() {
    const limits = state.info && state.info.limits;
    return limits && Number.isFinite(limits.max_document_chars) ? limits.max_document_chars : null;
  }

  function updateCharCount() {
    const n = codePointLength(els.text.value);
    const limit = maxChars();
    els.charCount.textContent = limit
      ? `${n.toLocaleString()} / ${limit.toLocaleString()} characters`
      : `${n.toLocaleString()} characters`;
    els.charCount.classList.toggle("over", limit !== null && n > limit);
  }

  // ---------- errors ----------

  function showError(title, message, hint) {
    els.errorTitle.textContent = title;
    els.errorMessage.textContent = message || "";
    els.errorMessage.hidden = !message;
    els.errorHint.textContent = hint || "";
    els.errorHint.hidden = !hint;
    els.errorBox.hidden = false;
    els.errorBox.scrollIntoView({ block: "nearest" });
  }

  function clearError() { els.errorBox.hidden = true; }

  function showHttpError(res) {
    const message = res.body && typeof res.body.error === "string" ? res.body.error
      : (res.raw || "").slice(0, 300);
    const retry = res.headers && res.headers.get("Retry-After");
    switch (res.status) {
      case 401:
        els.settings.open = true;
        showError("API key missing or wrong (401)", message,
                  "Enter the service's API key under “API key” and classify again.");
        els.apiKey.focus();
        break;
      case 413:
        showError("Text too long (413)", message,
                  "Shorten the article or split it into parts and classify each part.");
        break;
      case 503:
        showError("Service overloaded (503)", message,
                  `The server is busy: retry shortly${retry ? ` (in about ${retry} s)` : ""}.`);
        break;
      case 400:
      case 422:
        showError(`Request rejected (${res.status})`, message, "Check the text and the language.");
        break;
      default:
        showError(`Server error (HTTP ${res.status})`, message, "Try again; if it persists, check the server log.");
    }
  }

  // ---------- classification ----------

  function setBusy(busy) {
    state.busy = busy;
    els.classify.disabled = busy;
    els.classify.classList.toggle("loading", busy);
    els.classify.querySelector(".btn-text").textContent = busy ? "Classifying…" : "Classify";
    els.results.setAttribute("aria-busy", busy ? "true" : "false");
  }

  async function classify() {
    if (state.busy) return;
    const text = els.text.value;
    if (!text.trim()) {
      showError("Nothing to classify", "", "Paste an article into the text box first, or try the example.");
      els.text.focus();
      return;
    }
    clearError();
    setBusy(true);
    try {
      if (!state.info) await loadInfo();
      const payload = { text };
      if (els.lang.value) payload.lang = els.lang.value;
      const res = await post(apiPath("/classify_document"), payload);
      if (!res.ok || !res.body || !Array.isArray(res.body.sentences)) {
        if (res.ok) showError("Unexpected answer from the server", (res.raw || "").slice(0, 300));
        else showHttpError(res);
        return;
      }
      state.lastJson = res.raw;
      render(res.body, text);
    } catch (err) {
      if (err.network) {
        showError("Cannot reach the service", err.message,
                  "Check that the server is running and your connection, then try again.");
      } else {
        showError("Something went wrong", String(err && err.message ? err.message : err));
      }
    } finally {
      setBusy(false);
    }
  }

  // ---------- rendering ----------

  function chip(id, small) {
    const node = el("span", small ? "chip chip-small" : "chip", labelName(id));
    node.dataset.label = id;
    node.style.setProperty("--c", labelColor(id));
    return node;
  }

  // Groups sentence indices into paragraphs: a line break between two sentences starts a new one.
  // Offsets are in code points (Python string indices), so the text is indexed as an array of code points.
  function paragraphs(sentences, text) {
    const chars = Array.from(text);
    const groups = [];
    let current = [];
    sentences.forEach((s, i) => {
      const prev = sentences[i - 1];
      const gap = prev ? chars.slice(prev.end, s.start).join("") : "";
      if (current.length && /\n/.test(gap)) {
        groups.push(current);
        current = [];
      }
      current.push(i);
    });
    if (current.length) groups.push(current);
    return groups;
  }

  function topLabel(s) {
    let best = s.labels[0];
    for (const id of s.labels) if ((s.scores[id] || 0) > (s.scores[best] || 0)) best = id;
    return best;
  }

  function render(body, text) {
    hideTip();
    const sentences = body.sentences;
    const summary = Array.isArray(body.summary) ? body.summary : [];
    state.sentences = sentences;

    // Article view.
    els.article.replaceChildren();
    paragraphs(sentences, text).forEach((group, g) => {
      const only = sentences[group[0]];
      // A short first line without final punctuation is the headline.
      const headline = g === 0 && group.length === 1 && only.text.length <= 160 && !/[.!?…。؟।]["'”’»)]*$/u.test(only.text);
      const p = el("p", headline ? "para headline" : "para");
      p.dir = direction(group.map((i) => sentences[i].text).join(" "));
      group.forEach((i, k) => {
        const s = sentences[i];
        const labels = Array.isArray(s.labels) ? s.labels : [];
        const span = el("span", labels.length ? "sentence labelled" : "sentence");
        span.id = `sentence-${i}`;
        span.dataset.index = String(i);
        span.dir = direction(s.text);
        span.tabIndex = 0;
        span.setAttribute("aria-describedby", "score-tip");
        if (labels.length) span.style.setProperty("--c", labelColor(topLabel(s)));
        span.append(el("span", "sentence-text", s.text));
        if (labels.length || s.truncated) {
          const chips = el("span", "chips");
          const byScore = [...labels].sort((a, b) => (s.scores[b] || 0) - (s.scores[a] || 0));
          byScore.forEach((id, n) => {
            const c = chip(id, true);
            if (n >= VISIBLE_CHIPS && byScore.length > VISIBLE_CHIPS + 1) c.classList.add("extra");
            chips.append(c);
          });
          const extra = chips.querySelectorAll(".extra").length;
          if (extra) {
            const more = el("button", "chip chip-small chip-more", `+${extra}`);
            more.type = "button";
            more.tabIndex = -1; // the sentence itself is the tab stop; its tooltip lists every label
            more.title = `${extra} more: ${byScore.slice(byScore.length - extra).map(labelName).join(", ")}`;
            more.setAttribute("aria-label", `show ${extra} more labels`);
            more.addEventListener("click", (e) => {
              e.stopPropagation();
              chips.classList.add("expanded");
              more.remove();
            });
            chips.append(more);
          }
          if (s.truncated) {
            const t = el("span", "chip chip-warn chip-small", "truncated");
            t.title = "Longer than the model's maximum length: only the beginning was read.";
            chips.append(t);
          }
          span.append(chips);
        }
        if (k > 0) p.append(" ");
        p.append(span);
      });
      els.article.append(p);
    });
    if (!sentences.length) els.article.append(el("p", "muted", "No sentences found in this text."));

    // Summary panel.
    els.summary.replaceChildren();
    for (const item of summary) {
      const li = el("li", "summary-item");
      li.dataset.label = item.label;
      li.style.setProperty("--c", labelColor(item.label));
      const button = el("button", "summary-button");
      button.type = "button";
      const head = el("span", "summary-head");
      head.append(chip(item.label, false));
      const n = item.sentences;
      head.append(el("span", "summary-count", `${n} sentence${n === 1 ? "" : "s"}`));
      const evidence = el("span", "summary-evidence", item.evidence);
      evidence.dir = direction(String(item.evidence || ""));
      const meta = el("span", "summary-score", `strongest evidence · score ${formatScore(item.max_score)}`);
      button.append(head, evidence, meta);
      button.title = "Show the strongest evidence sentence in the article";
      button.addEventListener("click", () => jumpTo(item.evidence_index));
      li.append(button);
      els.summary.append(li);
    }
    els.summaryEmpty.hidden = summary.length > 0;

    const labelled = sentences.filter((s) => s.labels && s.labels.length).length;
    els.stats.textContent = `${sentences.length} sentence${sentences.length === 1 ? "" : "s"} · ` +
      `${labelled} with events · ${summary.length} event type${summary.length === 1 ? "" : "s"}` +
      (body.version ? ` · ${body.model} ${body.version}` : "");
    els.copyStatus.textContent = "";
    els.results.hidden = false;
    // On a small screen the result starts below the fold: bring it up.
    if (els.results.getBoundingClientRect().top > window.innerHeight * 0.75) {
      const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      els.results.scrollIntoView({ behavior: smooth ? "smooth" : "auto", block: "start" });
    }
  }

  function jumpTo(index) {
    const target = document.getElementById(`sentence-${index}`);
    if (!target) return;
    const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    target.scrollIntoView({ behavior: smooth ? "smooth" : "auto", block: "center" });
    target.focus({ preventScroll: true });
    target.classList.remove("flash");
    void target.offsetWidth; // restart the animation
    target.classList.add("flash");
  }

  // ---------- score tooltip (hover, tap and keyboard focus) ----------

  function fillTip(index) {
    const s = state.sentences[index];
    const thresholds = (state.info && state.info.thresholds) || {};
    els.tip.replaceChildren();
    els.tip.append(el("div", "tip-title", `Sentence ${index + 1} · scores`));
    const ids = Object.keys(s.scores || {}).sort((a, b) => s.scores[b] - s.scores[a]);
    const list = el("ul", "tip-list");
    for (const id of ids) {
      const on = Array.isArray(s.labels) && s.labels.includes(id);
      const row = el("li", on ? "tip-row on" : "tip-row");
      row.style.setProperty("--c", labelColor(id));
      row.append(el("span", "tip-name", labelName(id)));
      const bar = el("span", "tip-bar");
      const fill = el("span", "tip-fill");
      fill.style.width = `${Math.max(0, Math.min(1, s.scores[id])) * 100}%`;
      bar.append(fill);
      if (typeof thresholds[id] === "number") {
        const mark = el("span", "tip-threshold");
        mark.style.insetInlineStart = `${Math.max(0, Math.min(1, thresholds[id])) * 100}%`;
        mark.title = `threshold ${formatScore(thresholds[id])}`;
        bar.append(mark);
      }
      row.append(bar, el("span", "tip-score", formatScore(s.scores[id])));
      list.append(row);
    }
    els.tip.append(list);
    if (s.truncated) els.tip.append(el("div", "tip-note", "Truncated: only the beginning was read."));
    if (Object.keys(thresholds).length) els.tip.append(el("div", "tip-note", "Tick = label threshold"));
  }

  function placeTip() {
    const target = state.tipTarget;
    if (!target || els.tip.hidden) return;
    const rects = target.getClientRects();
    if (!rects.length) return hideTip();
    const first = rects[0];
    const last = rects[rects.length - 1];
    const tip = els.tip.getBoundingClientRect();
    const vw = document.documentElement.clientWidth;
    const vh = document.documentElement.clientHeight;
    let top = last.bottom + 8;
    if (top + tip.height > vh - 8 && first.top - tip.height - 8 > 8) top = first.top - tip.height - 8;
    let left = (target.dir === "rtl" ? first.right - tip.width : first.left);
    left = Math.max(8, Math.min(left, vw - tip.width - 8));
    els.tip.style.top = `${Math.round(top)}px`;
    els.tip.style.left = `${Math.round(left)}px`;
  }

  function showTip(target) {
    if (!target || !state.sentences) return;
    const index = Number(target.dataset.index);
    if (!state.sentences[index]) return;
    if (state.tipTarget !== target) {
      if (state.tipTarget) state.tipTarget.classList.remove("active");
      state.tipTarget = target;
      target.classList.add("active");
      fillTip(index);
    }
    els.tip.hidden = false;
    placeTip();
  }

  function hideTip() {
    if (state.tipTarget) state.tipTarget.classList.remove("active");
    state.tipTarget = null;
    els.tip.hidden = true;
  }

  const sentenceOf = (node) => (node instanceof Element ? node.closest(".sentence") : null);

  // Only a real pointer movement moves the tooltip: browsers also send mouse events when the page scrolls
  // under a resting pointer (e.g. while tabbing), which must not steal the tooltip from the focused sentence.
  let lastPointer = "";
  els.article.addEventListener("mousemove", (e) => {
    const at = `${e.clientX},${e.clientY}`;
    if (at === lastPointer) return;
    lastPointer = at;
    const target = sentenceOf(e.target);
    if (target && target !== state.tipTarget) showTip(target);
  });
  els.article.addEventListener("mouseleave", () => {
    if (!els.article.contains(document.activeElement)) hideTip();
    else showTip(sentenceOf(document.activeElement));
  });
  els.article.addEventListener("focusin", (e) => showTip(sentenceOf(e.target)));
  // Enter or Space on a focused sentence shows all of its label chips.
  els.article.addEventListener("keydown", (e) => {
    const target = sentenceOf(e.target);
    if (!target || (e.key !== "Enter" && e.key !== " ")) return;
    const more = target.querySelector(".chip-more");
    if (more) { e.preventDefault(); more.click(); }
  });
  els.article.addEventListener("focusout", (e) => {
    if (!sentenceOf(e.relatedTarget)) hideTip();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !els.tip.hidden) hideTip();
  });
  window.addEventListener("scroll", placeTip, { passive: true });
  window.addEventListener("resize", placeTip);

  // ---------- copy JSON ----------

  async function copyJson() {
    if (!state.lastJson) return;
    let pretty = state.lastJson;
    try { pretty = JSON.stringify(JSON.parse(state.lastJson), null, 2); } catch { /* keep raw */ }
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(pretty); copied = true; } catch { copied = false; }
    }
    if (!copied) { // plain http on a LAN address has no Clipboard API
      const area = el("textarea");
      area.value = pretty;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.append(area);
      area.select();
      try { copied = document.execCommand("copy"); } catch { copied = false; }
      area.remove();
    }
    els.copyStatus.textContent = copied ? "Copied" : "Copy failed: select the JSON by hand";
    setTimeout(() => { els.copyStatus.textContent = ""; }, 2500);
  }

  // ---------- wiring ----------

  els.form.addEventListener("submit", (e) => { e.preventDefault(); classify(); });
  els.text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      els.form.requestSubmit();
    }
  });
  els.text.addEventListener("input", updateCharCount);
  els.example.addEventListener("click", () => {
    els.text.value = EXAMPLE;
    els.lang.value = "";
    updateCharCount();
    els.text.focus();
  });
  els.clear.addEventListener("click", () => {
    els.text.value = "";
    updateCharCount();
    clearError();
    hideTip();
    els.results.hidden = true;
    state.lastJson = "";
    els.text.focus();
  });
  els.copy.addEventListener("click", copyJson);

  try { els.apiKey.value = sessionStorage.getItem(KEY_STORAGE) || ""; } catch { /* storage disabled */ }
  if (els.apiKey.value) els.settings.open = true;
  els.apiKey.addEventListener("change", () => {
    const key = els.apiKey.value.trim();
    try {
      if (key) sessionStorage.setItem(KEY_STORAGE, key);
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch { /* storage disabled */ }
    loadInfo();
  });

  updateCharCount();
  loadInfo();
})();
