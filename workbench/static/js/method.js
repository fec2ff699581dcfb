// The node edit page: show only the fields of the chosen scoring method.
(function () {
  const select = document.getElementById("m-type");
  if (!select) { return; }
  function show() {
    document.querySelectorAll("#method-form [data-method]").forEach(function (group) {
      group.hidden = group.getAttribute("data-method") !== select.value;
    });
  }
  select.addEventListener("change", show);
  show();
})();
