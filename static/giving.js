// Giving pages (templates/donate/): scripts come from this site only (the CSP), so no inline code.
// - A Donate link with data-add-tz, and the city chooser, pass the browser's time zone, which
//   puts the nearest cities first (no location is asked for).
// - The chooser's search box filters its city list as one types.
// - A tapped preset is the gift: a typed amount left in the field would win over it.
(function () {
  function zone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }
  document.querySelectorAll("a[data-add-tz]").forEach(function (a) {
    if (zone()) a.search = "?tz=" + encodeURIComponent(zone());
  });

  var chooser = document.querySelector("[data-city-chooser]");
  if (chooser) {
    var params = new URLSearchParams(location.search);
    if (!params.get("tz") && !params.get("city") && zone()) {
      params.set("tz", zone());
      location.replace(location.pathname + "?" + params.toString());
      return;
    }
    var input = chooser.querySelector("[data-city-search]");
    var items = chooser.querySelectorAll("[data-city-list] li");
    var none = chooser.querySelector("[data-no-match]");
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase(), shown = 0;
      items.forEach(function (li) {
        var hit = li.dataset.name.indexOf(q) !== -1;
        li.hidden = !hit;
        shown += hit ? 1 : 0;
      });
      none.hidden = shown > 0;
    });
  }

  document.querySelectorAll(".donate-form .preset").forEach(function (button) {
    button.addEventListener("click", function () { button.form.elements.amount.value = ""; });
  });
})();
