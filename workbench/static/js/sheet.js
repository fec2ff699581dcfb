// Expert sheet: save a draft a moment after each change (no inline script: the CSP forbids it).
(function () {
  const form = document.getElementById("sheet-form");
  const status = document.getElementById("autosave-status");
  if (!form || !status) return;
  let timer = null;
  let inflight = null;
  let pending = false;
  // One autosave at a time: each carries the version the previous one returned, so a slow
  // network cannot make two of them race and refuse each other as stale.
  function save() {
    if (inflight) {
      pending = true;
      return;
    }
    const data = new FormData(form);
    const request = fetch(form.dataset.draftUrl, { method: "POST", body: data, credentials: "same-origin" })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
      .then(({ ok, body }) => {
        status.textContent = ok
          ? status.dataset.saved || "✓"
          : body.error || status.dataset.failed || "!";
        status.className = ok ? "small text-success" : "small text-danger";
        const version = document.getElementById("sheet-version");
        if (ok && version && body.version !== undefined) version.value = body.version;
        form.querySelectorAll(".is-invalid").forEach((el) => el.classList.remove("is-invalid"));
        if (!ok && body.problems) {
          Object.keys(body.problems).forEach((code) => {
            const input = document.getElementById("score-" + code);
            if (input) input.classList.add("is-invalid");
          });
        }
      })
      .catch(() => { status.textContent = status.dataset.failed || "!"; })
      .finally(() => {
        if (inflight === request) inflight = null;
        if (pending) {
          pending = false;
          save();
        }
      });
    inflight = request;
  }
  // Saving or submitting: no autosave after it, and none still running with the old version.
  form.addEventListener("submit", (event) => {
    clearTimeout(timer);
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
