"""Open every page of the built documentation in headless Chromium and check it.

Run after ``sphinx-build`` (``.ci/run`` does)::

    python docs/check_site.py [docs/_build/html] [--screenshots DIR]

The built HTML is served on 127.0.0.1 and every page is opened in Chromium
(driven by playwright, pointed at an installed Chromium: no browser is
downloaded). Requests to any other host are blocked, so the site is checked as
a reader without network access would see it. A page fails when it has

* a console error, a script error, or a resource that fails to load;
* a request to another host (the documentation must read the same offline);
* a broken image, or an internal link or anchor that leads nowhere;
* raw ``\\(`` or ``\\[`` LaTeX left in its text after MathJax ran, or a
  MathJax error;
* a heading or a previous/next label wider than its box (clipped text);
* for an API class page: no "Methods" section, or a public method written
  in mathlearn that is not documented on the page;
* for an example page: no figure, or the repr of a matplotlib object (such
  as ``Text(0.5, 1.0, ...)``) in its printed output.

Screenshots of four pages (home, a user-guide page, an API page, an example)
are saved in the folder printed at the end. The exit status is 1 when any page
fails.
"""

import argparse
import asyncio
import functools
import importlib
import inspect
import re
import sys
import threading
import time
from collections import defaultdict
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

DOCS = Path(__file__).resolve().parent

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Every host name but the local server's fails to resolve: the site is
    # checked as a reader without network access sees it.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

# Pages photographed: file name -> (page, where the picture starts: the top
# of the page or the first element a playwright selector matches).
SCREENSHOTS = {
    "home.png": ("index.html", None),
    "user_guide.png": ("user_guide/impute.html", None),
    "api.png": (
        "api/generated/mathlearn.impute.TraceNormImputer.html",
        'p.rubric:text-is("Methods")',
    ),
    "gallery.png": (
        "auto_examples/som/plot_digits_umatrix.html",
        "img.sphx-glr-single-img",
    ),
}
SCREENSHOT_SIZE = (1280, 1800)

# Folders of the build that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "_downloads", "_modules"}

# Collected in the page after it has loaded and MathJax has typeset it.
PAGE_REPORT_JS = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  await document.fonts.ready;
  const timeout = (ms) => new Promise((resolve) => setTimeout(resolve, ms, "timeout"));
  const images = [...document.images];
  const broken = [];
  await Promise.all(images.map(async (img) => {
    img.loading = "eager";
    const result = await Promise.race([
      img.decode().then(() => "ok", () => "broken"), timeout(15000)]);
    if (result !== "ok" || img.naturalWidth === 0) {
      broken.push(`${img.getAttribute("src")} (${result})`);
    }
  }));
  const skip = "pre, code, script, style, textarea, kbd, samp, mjx-container";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => node.parentElement.closest(skip)
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  const rawLatex = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.search(/\\[(\[]/);
    if (at >= 0) rawLatex.push(node.data.slice(at, at + 60));
  }
  const boxes = "article h1, .prev-next-area a, .bd-header .navbar-item a, "
    + ".bd-sidebar-primary nav, .bd-sidebar-secondary nav";
  const clipped = [...document.querySelectorAll(boxes)]
    .filter((el) => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
    .map((el) => el.textContent.trim().replace(/\s+/g, " ").slice(0, 80));
  const article = document.querySelector("article") || document.body;
  const firstObject = article.querySelector("dl.py");
  const rubrics = [...article.querySelectorAll("p.rubric")]
    .map((el) => el.textContent.trim());
  return {
    brokenImages: broken,
    links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
    ids: [...document.querySelectorAll("[id]")].map((el) => el.id)
      .concat([...document.querySelectorAll("a[name]")].map((a) => a.name)),
    rawLatex,
    mathErrors: [...document.querySelectorAll("mjx-merror")]
      .map((el) => el.getAttribute("data-mjx-error") || el.textContent),
    clipped,
    apiObject: firstObject ? {
      kind: firstObject.classList[1],
      name: firstObject.querySelector("dt") ? firstObject.querySelector("dt").id : "",
      hasMethodsSection: rubrics.includes("Methods"),
      members: [...firstObject.querySelectorAll(
        "dl.py.method > dt, dl.py.property > dt")].map((dt) => dt.id),
    } : null,
    figures: document.querySelectorAll(
      "img.sphx-glr-single-img, img.sphx-glr-multi-img").length,
    outputs: [...document.querySelectorAll(".sphx-glr-script-out pre")]
      .map((el) => el.textContent),
  };
}
"""

# The repr of a matplotlib artist printed by a cell that ends in a call.
MATPLOTLIB_REPR = re.compile(
    r"^(Text|Line2D|Legend|AxesImage|PolyCollection)\(|^<matplotlib\.|"
    r"^\[<matplotlib\.",
    re.MULTILINE,
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def serve(directory):
    """Serve ``directory`` on 127.0.0.1 in a thread; return (server, base URL)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address
    return server, f"http://{host}:{port}/"


def list_pages(root):
    """Every HTML page of the build, as paths relative to ``root``."""
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*.html")
        if path.relative_to(root).parts[0] not in ASSET_DIRS
    )


def _public_mathlearn_members(fullname):
    """Public methods and properties whose code is in mathlearn, of a class.

    Returns ``(methods, properties)``, or ``None`` when the class cannot be
    imported.
    """
    module, _, name = fullname.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    methods, properties = [], []
    for attr, value in inspect.getmembers(cls):
        code = getattr(value, "fget", value)
        if attr.startswith("_") or not inspect.isroutine(code):
            continue
        if getattr(code, "__module__", "").split(".")[0] == "mathlearn":
            (properties if isinstance(value, property) else methods).append(attr)
    return methods, properties


def page_problems(page, report):
    """What is wrong with one page, from the report collected in the browser."""
    problems = [f"broken image {src}" for src in report["brokenImages"]]
    raw = report["rawLatex"]
    problems += [f"raw LaTeX left after rendering: {text!r}" for text in raw[:3]]
    if len(raw) > 3:
        problems.append(f"... and {len(raw) - 3} more raw LaTeX formulas")
    problems += [f"MathJax error: {text}" for text in report["mathErrors"]]
    problems += [f"text clipped in its box: {text!r}" for text in report["clipped"]]
    api = report["apiObject"]
    if page.startswith("api/generated/") and api and api["kind"] == "class":
        members = _public_mathlearn_members(api["name"])
        if members is None:
            problems.append(f"cannot import {api['name']} to check its methods")
            members = [], []
        methods, properties = members
        if methods and not api["hasMethodsSection"]:
            problems.append("API class page without a Methods section")
        documented = {dt.rpartition(".")[2] for dt in api["members"]}
        problems += [
            f"{member} not documented"
            for member in methods + properties
            if member not in documented
        ]
    if re.search(r"(^|/)auto_examples/.*/plot_[^/]*\.html$", page):
        if report["figures"] == 0:
            problems.append("example page without a figure")
        for output in report["outputs"]:
            match = MATPLOTLIB_REPR.search(output)
            if match:
                line = output[match.start() :].splitlines()[0]
                problems.append(f"matplotlib repr printed: {line!r}")
    return problems


def link_problems(root, base_url, reports):
    """Internal links to missing files or to anchors that do not exist."""
    problems = defaultdict(list)
    for page, report in reports.items():
        for href in sorted(set(report["links"])):
            if not href.startswith(base_url):
                continue
            parts = urlsplit(href)
            target = unquote(parts.path)[1:] or "index.html"
            path = root / target
            if path.is_dir():
                target = f"{target.rstrip('/')}/index.html"
                path = root / target
            if not path.is_file():
                problems[page].append(f"broken link {href[len(base_url) :]}")
            elif parts.fragment and target in reports:
                if unquote(parts.fragment) not in reports[target]["ids"]:
                    problems[page].append(f"broken anchor {href[len(base_url) :]}")
    return problems


async def _screenshot(tab, start, path):
    """Save ``SCREENSHOT_SIZE`` of the page from ``start`` (a selector) down."""
    top = 0
    if start is not None and await tab.locator(start).count():
        box = await tab.locator(start).first.bounding_box()
        top = max(0, int(box["y"]) - 150) if box else 0
    width, height = SCREENSHOT_SIZE
    await tab.screenshot(
        path=path,
        full_page=True,
        clip={"x": 0, "y": top, "width": width, "height": height},
    )


async def _check_pages(pages, base_url, chromium, jobs, screenshot_dir):
    from playwright.async_api import async_playwright

    reports, problems = {}, defaultdict(list)
    queue = asyncio.Queue()
    for page in pages:
        queue.put_nowait(page)

    def record(page, problem):
        problems[page].append(problem)

    async def visit(context, page):
        tab = await context.new_page()

        def on_console(message):
            if message.type == "error":
                record(page, f"console error: {message.text}")

        def on_request(request):
            if not request.url.startswith((base_url, "data:", "blob:")):
                record(page, f"request to another host: {request.url}")

        def on_response(response):
            if response.status >= 400:
                record(page, f"HTTP {response.status} for {response.url}")

        tab.on("console", on_console)
        tab.on("pageerror", lambda error: record(page, f"script error: {error}"))
        tab.on("request", on_request)
        tab.on("response", on_response)
        try:
            await tab.goto(base_url + page, wait_until="load")
            reports[page] = await tab.evaluate(PAGE_REPORT_JS)
            for name, (shot, start) in SCREENSHOTS.items():
                if shot == page:
                    await _screenshot(tab, start, screenshot_dir / name)
        finally:
            await tab.close()

    async def worker(browser):
        context = await browser.new_context(
            viewport={"width": SCREENSHOT_SIZE[0], "height": 900}
        )
        while not queue.empty():
            page = queue.get_nowait()
            try:
                await visit(context, page)
            except Exception as exc:  # a page that cannot be opened is a failure
                record(page, f"could not check the page: {exc}")
        await context.close()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS
        )
        await asyncio.gather(*(worker(browser) for _ in range(jobs)))
        await browser.close()
    return reports, problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "build_dir",
        nargs="?",
        type=Path,
        default=DOCS / "_build" / "html",
        help="the HTML build (default: docs/_build/html)",
    )
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=None,
        help="folder for the screenshots (default: BUILD_DIR/../screenshots)",
    )
    parser.add_argument(
        "--chromium", default="/usr/bin/chromium", help="the Chromium executable"
    )
    parser.add_argument(
        "--jobs", type=int, default=4, help="pages open at once (default: 4)"
    )
    args = parser.parse_args(argv)
    root = args.build_dir.resolve()
    screenshot_dir = (args.screenshots or root.parent / "screenshots").resolve()
    screenshot_dir.mkdir(parents=True, exist_ok=True)
    pages = list_pages(root)
    if not pages:
        print(f"no HTML pages in {root}", file=sys.stderr)
        return 1
    missing = sorted({page for page, _ in SCREENSHOTS.values()} - set(pages))
    if missing:
        print(f"pages to photograph are missing: {missing}", file=sys.stderr)
        return 1

    start = time.perf_counter()
    server, base_url = serve(root)
    try:
        reports, problems = asyncio.run(
            _check_pages(pages, base_url, args.chromium, args.jobs, screenshot_dir)
        )
    finally:
        server.shutdown()
    for page, report in reports.items():
        problems[page] += page_problems(page, report)
    for page, found in link_problems(root, base_url, reports).items():
        problems[page] += found
    failed = {page: found for page, found in sorted(problems.items()) if found}
    for page, found in failed.items():
        print(f"{page}:")
        for problem in dict.fromkeys(found):
            print(f"  {problem}")
    seconds = time.perf_counter() - start
    print(
        f"checked {len(pages)} pages in Chromium in {seconds:.0f} s: "
        f"{len(failed)} with problems"
    )
    print(f"screenshots: {screenshot_dir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
