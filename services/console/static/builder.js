// Block editor: merge fields inserted at the cursor, and the preview width switched in place.
// Without this file the page still works: the field list is a hint and the width links reload.
(function () {
  "use strict";
  document.querySelectorAll("select[data-merge-into]").forEach(function (select) {
    select.addEventListener("change", function () {
      var field = document.getElementById(select.getAttribute("data-merge-into"));
      var token = select.value;
      select.value = "";
      if (!field || !token) { return; }
      var start = field.selectionStart == null ? field.value.length : field.selectionStart;
      var end = field.selectionEnd == null ? start : field.selectionEnd;
      field.value = field.value.slice(0, start) + token + field.value.slice(end);
      field.focus();
      field.setSelectionRange(start + token.length, start + token.length);
    });
  });
  var frames = document.querySelector(".frames");
  document.querySelectorAll("#preview nav.tabs a[data-view]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (!frames) { return; }
      event.preventDefault();
      frames.setAttribute("data-view", link.getAttribute("data-view"));
      document.querySelectorAll("#preview nav.tabs a[data-view]").forEach(function (other) {
        other.classList.toggle("current", other === link);
        if (other === link) { other.setAttribute("aria-current", "page"); } else { other.removeAttribute("aria-current"); }
      });
      var view = document.querySelector("#blocks-form input[name=view]");
      if (view) { view.value = link.getAttribute("data-view"); }
    });
  });
}());
