// Accord's only script: move the keyboard and screen-reader focus to an error summary, so
// that people hear at once what went wrong. Everything works without it.
document.addEventListener("DOMContentLoaded", function () {
  var target = document.querySelector("[data-focus-on-load]");
  if (target) {
    target.focus();
  }
});
