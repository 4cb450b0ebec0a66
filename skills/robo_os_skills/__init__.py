SKILLS: list[object] = []
