"""``attnas presets``: list the shipped architectures, one per line with a short description."""
NAME = "presets"
HELP = "list the shipped preset architectures"


def add_arguments(parser):
    parser.add_argument("--names", action="store_true", help="print only the names")


def run(args) -> int:
    from search_space.presets import preset_description, preset_names

    names = preset_names()
    width = max(map(len, names), default=0)
    for name in names:
        print(name if args.names else f"{name:<{width}}  {preset_description(name)}")
    return 0
