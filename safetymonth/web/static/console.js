// The console's only script: a live countdown, a reason asked (in a <dialog>) before a
// decision is sent, a unit's upload link copied, and the document forms' rows added, removed
// and moved in place (without the script, the same buttons post the form and the server does it).
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
  // A decision needs a reason: ask for it in the page's dialog before the form is sent.
  const form = event.target;
  const field = form.querySelector("input[name=reason]");
  const dialog = document.getElementById("reason-dialog");
  if (!field || field.value || !dialog) return;
  event.preventDefault();
  const text = dialog.querySelector("textarea");
  dialog.querySelector("label").textContent = form.dataset.prompt || "请填写理由：";
  text.value = "";
  dialog.returnValue = "";
  dialog.onclose = () => {
    const reason = text.value.trim();
    if (dialog.returnValue === "ok" && reason) {
      field.value = reason;
      form.submit();
    }
  };
  dialog.showModal();
}

let newRows = 0;

function changeRows(event) {
  // A list's 添加/删除/上移/下移 button, done in the page instead of a round trip.
  const button = event.target.closest("button[name=op]");
  const field = button && button.closest(".rows-field");
  if (!field) return;
  const action = button.value.split(":")[0];
  const rows = field.querySelector(".rows");
  const row = button.closest(".row");
  event.preventDefault();
  if (action === "add") {
    if (rows.children.length >= Number(field.dataset.max)) return;
    const fresh = field.querySelector("template").content.firstElementChild.cloneNode(true);
    newRows += 1;
    fresh.querySelectorAll("input[name='r:units.key'], input[name='t:units']").forEach((input) => {
      input.value = "n" + newRows;
    });
    rows.appendChild(fresh);
    const first = fresh.querySelector("input:not([type=hidden]):not([type=checkbox]), textarea");
    if (first) first.focus();
  } else if (action === "remove" && row) {
    row.remove();
  } else if (action === "up" && row && row.previousElementSibling) {
    rows.insertBefore(row, row.previousElementSibling);
  } else if (action === "down" && row && row.nextElementSibling) {
    rows.insertBefore(row.nextElementSibling, row);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form.doc").forEach((form) => {
    form.addEventListener("click", changeRows);
  });
  document.querySelectorAll(".countdown[data-deadline]").forEach((element) => {
    updateCountdown(element);
    setInterval(() => updateCountdown(element), 60000);
  });
  document.querySelectorAll("form.needs-reason").forEach((form) => {
    form.addEventListener("submit", askReason);
  });
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    // Copy a unit's upload link (the clipboard API needs https; else select and copy).
    button.addEventListener("click", () => {
      const field = document.getElementById(button.dataset.copy);
      field.select();
      const done = () => { button.textContent = "已复制"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done);
      } else if (document.execCommand("copy")) {
        done();
      }
    });
  });
});
