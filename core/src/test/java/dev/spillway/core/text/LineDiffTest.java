package dev.spillway.core.text;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LineDiffTest {

    @Test
    void aChangedLineIsShownWithThreeLinesOfContextAsDiffDoes() {
        String a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        String b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\nten\n";
        assertThat(LineDiff.unified("v1/p.yaml", "v2/p.yaml", a, b)).isEqualTo("""
                --- v1/p.yaml
                +++ v2/p.yaml
                @@ -2,8 +2,9 @@
                 2
                 3
                 4
                -5
                +five
                 6
                 7
                 8
                 9
                +ten
                """);
        assertThat(LineDiff.unified("a", "b", a, a)).isEmpty();
    }

    @Test
    void aNewFileIsAllAdditions() {
        assertThat(LineDiff.unified("/dev/null", "local/new.yaml", "", "kind: Policy\nmetadata: {name: p}\n")).isEqualTo("""
                --- /dev/null
                +++ local/new.yaml
                @@ -0,0 +1,2 @@
                +kind: Policy
                +metadata: {name: p}
                """);
    }

    @Test
    void theEditScriptRebuildsBothTextsAndIsAsShortAsTheLongestCommonSubsequenceAllows() {
        Random random = new Random(42);
        for (int round = 0; round < 500; round++) {
            List<String> a = randomLines(random), b = randomLines(random);
            List<LineDiff.Edit> edits = LineDiff.edits(a, b);
            List<String> fromA = new ArrayList<>(), toB = new ArrayList<>();
            int changes = 0;
            for (LineDiff.Edit e : edits) {
                if (e.op() != '+') fromA.add(e.line());
                if (e.op() != '-') toB.add(e.line());
                if (e.op() != ' ') changes++;
            }
            assertThat(fromA).as("round %d", round).isEqualTo(a);
            assertThat(toB).as("round %d", round).isEqualTo(b);
            assertThat(changes).as("round %d: shortest", round).isEqualTo(a.size() + b.size() - 2 * lcs(a, b));
        }
    }

    private static List<String> randomLines(Random random) {
        List<String> out = new ArrayList<>();
        int n = random.nextInt(12);
        for (int i = 0; i < n; i++) out.add(Character.toString('a' + random.nextInt(4)));
        return out;
    }

    private static int lcs(List<String> a, List<String> b) {
        int[][] t = new int[a.size() + 1][b.size() + 1];
        for (int i = a.size() - 1; i >= 0; i--) {
            for (int j = b.size() - 1; j >= 0; j--) {
                t[i][j] = a.get(i).equals(b.get(j)) ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
            }
        }
        return t[0][0];
    }
}
