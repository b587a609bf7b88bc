// Asks before sending a form that does what cannot be undone: the form names its question in
// data-confirm. A file, not an onsubmit= attribute: the Content-Security-Policy runs no inline script.
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
