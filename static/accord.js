// Accord's own script, small on purpose; everything works without it.
document.addEventListener("DOMContentLoaded", function () {
  // Move the keyboard and screen-reader focus to an error summary, so that people hear at
  // once what went wrong.
  var target = document.querySelector("[data-focus-on-load]");
  if (target) {
    target.focus();
  }
  // On a phone the writing steps scroll sideways: show the current one.
  var step = document.querySelector('.stepper [aria-current="step"]');
  if (step && step.scrollIntoView) {
    step.scrollIntoView({ block: "nearest", inline: "center" });
  }
});
