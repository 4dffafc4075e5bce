// The console's only script of its own (the CSP allows scripts from /static only, none inline):
// a range input shows its value in the <output> that follows it.
document.addEventListener("input", function (event) {
  var input = event.target;
  if (input instanceof HTMLInputElement && input.type === "range") {
    var shown = input.nextElementSibling;
    if (shown instanceof HTMLOutputElement) {
      shown.value = input.value;
    }
  }
});
