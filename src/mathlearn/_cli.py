"""The ``mathlearn`` command line."""

import argparse
import sys

import mathlearn

_TOUR_HELP = """\
Run every part of mathlearn on bundled data and print what it found.

Each section uses data that ships with scikit-learn or is generated in code
(nothing is downloaded), prints a short report -- what was done, the key
figure, and a naive baseline to compare with -- and saves its plots (PNG) in
the output folder. The whole tour takes under two minutes on two cores.
Plots need matplotlib: pip install matplotlib.
"""


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="mathlearn",
        description="mathlearn: the mathematics of machine learning, "
        "as scikit-learn estimators and NumPy functions.",
    )
    parser.add_argument(
        "--version", action="version", version=f"mathlearn {mathlearn.__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    tour = commands.add_parser(
        "tour",
        help="run every capability on bundled data and print what it found",
        description=_TOUR_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tour.add_argument(
        "--only",
        metavar="NAME",
        action="append",
        help="run only this section (repeat for several); see --list",
    )
    tour.add_argument(
        "--out",
        metavar="DIR",
        default="mathlearn-tour",
        help="folder for the plots (default: ./mathlearn-tour)",
    )
    tour.add_argument("--no-plots", action="store_true", help="do not save plots")
    tour.add_argument("--list", action="store_true", help="list the sections and exit")
    return parser


def main(argv=None):
    """Run the command line; return the exit status."""
    from mathlearn._tour import run_tour
    from mathlearn.utils import all_tour_sections

    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    sections = all_tour_sections()
    if args.list:
        for section in sections:
            print(f"{section.name:20s} {section.title}")
        return 0
    if args.only:
        known = {section.name for section in sections}
        unknown = [name for name in args.only if name not in known]
        if unknown:
            parser.error(
                f"--only {', '.join(unknown)}: no such section; "
                f"choose from {', '.join(sorted(known)) or '(none installed)'}"
            )
        sections = [section for section in sections if section.name in args.only]
    if not sections:
        print("No tour sections are installed in this version of mathlearn.")
        return 0
    run_tour(sections, out_dir=None if args.no_plots else args.out, stream=sys.stdout)
    return 0
