// huiqian: small progressive enhancements; every page works without them.
document.addEventListener("submit", function (ev) {
  // A second click on a submit button while the first request is on its way does
  // nothing (creates are idempotent anyway; this spares the server the retry).
  const form = ev.target;
  if (form.dataset.submitting === "1") { ev.preventDefault(); return; }
  form.dataset.submitting = "1";
  setTimeout(function () { form.dataset.submitting = ""; }, 4000);
});
