// The language page (templates/language.html) exists only to carry the form's CSRF token:
// with scripts on, the visitor never has to press its button.
"use strict";
document.querySelectorAll("form[data-autosubmit]").forEach((form) => form.submit());
