// Accord's own script, small on purpose; everything works without it.
document.addEventListener("DOMContentLoaded", function () {
  // Move the keyboard and screen-reader focus to an error summary, so that people hear at
  // once what went wrong.
  var target = document.querySelector("[data-focus-on-load]");
  if (target) {
    target.focus();
  }
  // A button that undoes something asks first (data-confirm); without the script it does not.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
    }
  });
  // On a phone the writing steps scroll sideways: show the current one.
  var step = document.querySelector('.stepper [aria-current="step"]');
  if (step && step.scrollIntoView) {
    step.scrollIntoView({ block: "nearest", inline: "center" });
  }
});
