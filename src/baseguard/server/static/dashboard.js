// Filter a table's rows by the text typed in an <input data-filter="TABLE-ID">.
document.addEventListener("input", function (event) {
  var input = event.target;
  var id = input && input.getAttribute && input.getAttribute("data-filter");
  if (!id) return;
  var needle = input.value.toLowerCase();
  var rows = document.querySelectorAll("#" + id + " tbody tr");
  for (var i = 0; i < rows.length; i++) {
    rows[i].hidden = needle !== "" && rows[i].textContent.toLowerCase().indexOf(needle) < 0;
  }
});
