"""Read a rendered HTML form the way a browser would submit it (stdlib only)."""

from html.parser import HTMLParser


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.form = None
        self.select = None
        self.textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.form = {"attrs": a, "fields": [], "buttons": []}
            self.forms.append(self.form)
        if self.form is None:
            return
        if tag == "input":
            kind = a.get("type", "text")
            if "disabled" in a or not a.get("name"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.form["fields"].append((a["name"], a.get("value", "on")))
            elif kind == "submit":
                self.form["buttons"].append((a["name"], a.get("value", "")))
            else:
                self.form["fields"].append((a["name"], a.get("value", "")))
        elif tag == "button" and a.get("name"):
            self.form["buttons"].append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name") and "disabled" not in a:
            self.select = {"name": a["name"], "first": None, "selected": None}
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            if self.select["first"] is None:
                self.select["first"] = value
            if "selected" in a:
                self.select["selected"] = value
        elif tag == "textarea" and a.get("name") and "disabled" not in a:
            self.textarea = {"name": a["name"], "text": ""}

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea["text"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "select" and self.select is not None:
            s = self.select
            chosen = s["selected"] if s["selected"] is not None else s["first"]
            if chosen is not None and self.form is not None:
                self.form["fields"].append((s["name"], chosen))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            text = self.textarea["text"]
            if text.startswith("\n"):  # the HTML parser drops one leading newline in a textarea
                text = text[1:]
            self.form["fields"].append((self.textarea["name"], text))
            self.textarea = None


def forms(html):
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def designer_form(html):
    """The designer's form on a page (not the header's sign-out form): its fields as a dict."""
    found = [f for f in forms(html) if "novalidate" in f["attrs"]]
    assert found, "no designer form on the page"
    form = max(found, key=lambda f: len(f["fields"]))
    fields = {}
    for name, value in form["fields"]:
        assert name not in fields, f"two inputs are named {name}"
        fields[name] = value
    return fields
