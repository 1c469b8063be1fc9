package digests

// List is an image list as read from an images_digests.yml.
type List struct {
	File   string  // the name given to Parse (the path given to ParseFile)
	Images []Image // sorted by Component, then Container; each Key once; never empty once parsed
}

// Group is a set of entries that name the same upstream image (Image.SameSource): it is pulled,
// stored and pushed once.
type Group struct {
	Source  Image   // the first member
	Members []Image // in list order; at least one
}

// Groups partitions l.Images by source. Groups are ordered by their first member's place in
// l.Images, members keep that order too.
func (l *List) Groups() []Group {
	var groups []Group
next:
	for _, img := range l.Images {
		for i := range groups {
			if groups[i].Source.SameSource(img) {
				groups[i].Members = append(groups[i].Members, img)
				continue next
			}
		}
		groups = append(groups, Group{Source: img, Members: []Image{img}})
	}
	return groups
}
