// The console's only script: a live countdown, and a reason asked before a decision is sent.
"use strict";

function updateCountdown(element) {
  // The deadline's last second with the campaign's own UTC offset (the server writes it):
  // the countdown is the same on a PC set to any time zone.
  const deadline = new Date(element.dataset.deadline);
  const days = element.querySelector(".days");
  const left = deadline - new Date();
  const dayMs = 24 * 3600 * 1000;
  if (left < 0) {
    days.textContent = "已过 " + Math.floor(-left / dayMs) + " 天";
    return;
  }
  const hours = Math.floor((left % dayMs) / 3600000);
  days.textContent = "还剩 " + Math.floor(left / dayMs) + " 天 " + hours + " 小时";
}

function askReason(event) {
  // A decision needs a reason: ask for it before the form is sent.
  const form = event.target;
  const field = form.querySelector("input[name=reason]");
  if (!field || field.value) return;
  const reason = window.prompt(form.dataset.prompt || "请填写理由：");
  if (!reason) {
    event.preventDefault();
    return;
  }
  field.value = reason;
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".countdown[data-deadline]").forEach((element) => {
    updateCountdown(element);
    setInterval(() => updateCountdown(element), 60000);
  });
  document.querySelectorAll("form.needs-reason").forEach((form) => {
    form.addEventListener("submit", askReason);
  });
});
