// Expert sheet: progress as scores are typed, a draft saved a moment after each change, and a
// tab shown again (or refused as stale) showing the values saved elsewhere. No inline script:
// the CSP forbids it.
(function () {
  const form = document.getElementById("sheet-form");
  const status = document.getElementById("autosave-status");
  if (!form) return;
  const version = document.getElementById("sheet-version");
  const scores = () => Array.from(form.querySelectorAll("input[id^='score-']"));

  function progress() {
    const all = scores();
    const done = all.filter((input) => input.value.trim() !== "").length;
    const bar = document.getElementById("sheet-progress-bar");
    const count = document.getElementById("sheet-progress-count");
    const outer = document.getElementById("sheet-progress");
    if (bar) {
      const tenth = Math.floor((100 * done) / (all.length || 1) / 10) * 10;
      bar.className = bar.className.replace(/\bprogress-\d+\b/, "progress-" + tenth);
    }
    if (count) count.textContent = done + "/" + all.length;
    if (outer) outer.setAttribute("aria-valuenow", String(done));
  }
  form.addEventListener("input", progress);
  if (!status) return; // a submitted sheet: nothing to save

  function tell(text, ok) {
    status.textContent = text;
    status.className = ok ? "small text-success" : "small text-danger";
  }

  // The values saved on the server replace the page's (another tab saved since).
  function apply(body) {
    if (body.locked) {
      window.location.reload();
      return;
    }
    const values = body.values || {};
    scores().forEach((input) => {
      const code = input.id.slice("score-".length);
      const pair = values[code] || ["", ""];
      input.value = pair[0];
      const comment = document.getElementById("comment-" + code);
      if (comment) comment.value = pair[1];
    });
    if (version && body.version !== undefined) version.value = body.version;
    progress();
    tell(status.dataset.reloaded, false);
  }

  function refusal(response, body) {
    if (response.status === 400) return status.dataset.expired;
    if (response.status === 404 || response.status === 410) return status.dataset.gone;
    if (response.status === 429) return status.dataset.busy;
    if (body && body.error) return body.error;
    if (body && body.problems) return status.dataset.failed;
    return status.dataset.server + " (HTTP " + response.status + ")";
  }

  function readJson(response) {
    const type = response.headers.get("content-type") || "";
    const body = type.indexOf("json") >= 0 ? response.json().catch(() => null) : Promise.resolve(null);
    return body.then((parsed) => ({ response, body: parsed }));
  }

  let timer = null;
  let inflight = null;
  let pending = false;
  // One autosave at a time: each carries the version the previous one returned, so a slow
  // network cannot make two of them race and refuse each other as stale.
  function save() {
    timer = null;
    if (inflight) {
      pending = true;
      return;
    }
    const data = new FormData(form);
    const request = fetch(form.dataset.draftUrl, { method: "POST", body: data, credentials: "same-origin" })
      .then(readJson, () => null)
      .then((answer) => {
        if (answer === null) {
          tell(status.dataset.network, false); // fetch itself failed: no answer came back
          return;
        }
        const { response, body } = answer;
        form.querySelectorAll(".is-invalid").forEach((el) => el.classList.remove("is-invalid"));
        if (response.ok && body) {
          if (version && body.version !== undefined) version.value = body.version;
          tell(status.dataset.saved, true);
          return;
        }
        if (response.status === 409 && body && body.stale) {
          apply(body);
          return;
        }
        if (body && body.problems) {
          Object.keys(body.problems).forEach((code) => {
            const input = document.getElementById("score-" + code);
            if (input) input.classList.add("is-invalid");
          });
        }
        tell(refusal(response, body), false);
      })
      .finally(() => {
        if (inflight === request) inflight = null;
        if (pending) {
          pending = false;
          save();
        }
      });
    inflight = request;
  }

  // Shown again: if another tab saved since, show what is saved (unless a save is under way,
  // which then meets the conflict and reloads the saved values itself).
  function check() {
    if (timer || inflight || !form.dataset.savedUrl || document.visibilityState === "hidden") return;
    fetch(form.dataset.savedUrl, { credentials: "same-origin" })
      .then(readJson)
      .then(({ response, body }) => {
        if (!response.ok || !body || timer || inflight) return;
        if (version && String(body.version) !== String(version.value)) apply(body);
      })
      .catch(() => {});
  }
  document.addEventListener("visibilitychange", check);
  window.addEventListener("focus", check);

  // Saving or submitting: no autosave after it, and none still running with the old version.
  form.addEventListener("submit", (event) => {
    clearTimeout(timer);
    timer = null;
    pending = false;
    if (inflight) {
      event.preventDefault();
      const submitter = event.submitter;
      const resubmit = () => {
        if (inflight) return inflight.then(resubmit);
        if (form.requestSubmit) form.requestSubmit(submitter);
        else form.submit();
      };
      inflight.then(resubmit);
    }
  });
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(save, 1200);
  });
})();
