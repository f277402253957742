// Filters apply as soon as a choice changes; copy buttons copy a feed link. Pages work without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const input = document.getElementById(button.dataset.copy);
    if (!input || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", () => {
      input.select();
      navigator.clipboard.writeText(input.value).then(
        () => { button.textContent = button.dataset.done; },
        () => {} // refused (no permission): the text stays selected, to copy by hand
      );
    });
  }
});
