// Poll an import's progress and reload the page when it ends.
(function () {
  const box = document.getElementById("job-progress");
  if (!box) return;
  const bar = box.querySelector("progress");
  async function poll() {
    try {
      const res = await fetch(box.dataset.url, { credentials: "same-origin" });
      const data = await res.json();
      bar.max = data.total || 1;
      bar.value = data.done;
      box.querySelector("[data-phase]").textContent = data.phase;
      box.querySelector("[data-done]").textContent = data.done;
      box.querySelector("[data-total]").textContent = data.total;
      if (data.status !== "queued" && data.status !== "running") {
        window.location.reload();
        return;
      }
    } catch (e) {
      // keep polling: the server may be busy importing
    }
    window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 500);
})();
