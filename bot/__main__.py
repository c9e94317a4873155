from bot.ops.cli import main

main()
