// The public questionnaire (surveys/public/form.html): small helps, the server checks the same.
(function () {
  "use strict";
  var form = document.querySelector("form");
  if (!form) return;

  // After a refused submission: scroll to the first question that needs an answer, focus it.
  // Once the page has loaded (its styles and layout final, nothing moves it any more).
  var alert = document.getElementById("form-errors");
  var first = alert && alert.dataset.first && document.getElementById(alert.dataset.first);
  function showFirst() {
    first.scrollIntoView({ block: "start", behavior: "instant" });  // not Bootstrap's smooth scrolling
    var input = first.querySelector("input:not([type=hidden]), textarea");
    if (input) input.focus();  // brings it into view as well
  }
  if (first) {
    if (document.readyState === "complete") showFirst();
    else window.addEventListener("load", showFirst);
  }

  // Length limits: the count as one types (the limit itself is shown before typing).
  function count(field) {
    var note = document.getElementById(field.getAttribute("aria-describedby"));
    if (!note) return;
    var max = note.dataset.max;
    note.textContent = field.value.length ? field.value.length + " / " + max : note.textContent;
  }
  form.querySelectorAll("[data-counted]").forEach(function (field) {
    if (field.value.length) count(field);
    field.addEventListener("input", function () { count(field); });
  });

  // A "none of these" option is ticked on its own: ticking it clears the others, and the
  // other way round.
  form.addEventListener("change", function (event) {
    var box = event.target;
    if (box.type !== "checkbox" || !box.checked) return;
    var group = form.querySelectorAll('input[type=checkbox][name="' + box.name + '"]');
    group.forEach(function (other) {
      if (other === box) return;
      if (box.hasAttribute("data-exclusive") || other.hasAttribute("data-exclusive")) {
        other.checked = false;
      }
    });
  });

  // Typing in the "其他" box ticks 其他.
  form.querySelectorAll("input.survey-other").forEach(function (text) {
    var name = text.name.replace(/\.other$/, "");
    text.addEventListener("input", function () {
      var option = form.querySelector('input[name="' + name + '"][data-other]');
      if (option && text.value.trim() && !option.checked) {
        option.checked = true;
        option.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  });
})();
