// Evaluation Workbench: unobtrusive behaviour (no inline scripts, so the CSP can forbid them).
document.addEventListener("click", function (event) {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// A limited text box (data-limit): the hint under it says how many characters are left.
document.addEventListener("input", function (event) {
  const box = event.target.closest("textarea[data-limit]");
  const hint = box && document.querySelector('[data-limit-for="' + box.id + '"]');
  if (!hint) return;
  const left = Number(box.getAttribute("data-limit")) - box.value.length;
  if (!hint.dataset.text) hint.dataset.text = hint.textContent;
  hint.textContent = hint.dataset.text + " (" + left + ")";
});
