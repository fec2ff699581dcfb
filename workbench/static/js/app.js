// Evaluation Workbench: unobtrusive behaviour (no inline scripts, so the CSP can forbid them).
document.addEventListener("click", function (event) {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
